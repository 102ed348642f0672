"""ipywidgets front ends: watch and stop training, scrub epochs and transitions, tune hybrids. No math here."""
import html
import signal
import threading
import time
from pathlib import Path

import ipywidgets as W
import numpy as np
from ipyevents import Event
from IPython import get_ipython
from IPython.display import display
from PIL import Image

from . import parallel
from .checks import number
from .errors import MorphError
from .hybrid import BLUR_SIGMA, M_BLURRED, M_PRECISE, OUTPUT, Blender, kernel_size_for, match, pyramid
from .images import fit_side, mark_points, png_bytes, save_image
from .learn import learn
from .net import interpolate
from .render import BLEND, BLENDS, render, render_warped
from .transition import aspects, pair, summary
from .warp import WARP, WARPS, link_warp, points_file, saved_points, write_points
from .weights import load_numbered, weights_dir


def _image(rgb=None, width=256):
    return W.Image(value=png_bytes(rgb) if rgb is not None else b"", format="png", width=width)


_TRAINING = set()  # monitors whose training runs now


def _stopping(fallback):
    """A SIGINT handler that stops background training, or else does what `fallback` did."""
    def on_interrupt(signum, frame):
        if _TRAINING:
            for monitor in list(_TRAINING):
                monitor.stop()
        elif callable(fallback):
            fallback(signum, frame)
        elif fallback == signal.SIG_DFL:
            signal.default_int_handler(signum, frame)

    on_interrupt.morphlib = True
    return on_interrupt


def _catch_interrupts():
    """Make Ctrl-C and a kernel interrupt stop background training (which keeps its best weights); when nothing
    trains, interrupts do what they did before. Handlers can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if not getattr(current, "morphlib", False):
        signal.signal(signal.SIGINT, _stopping(current))
    kernel = getattr(get_ipython(), "kernel", None)
    idle = getattr(kernel, "saved_sigint_handler", None)  # ipykernel puts this back after each cell
    if idle is not None and not getattr(idle, "morphlib", False):
        kernel.saved_sigint_handler = _stopping(idle)


class TrainingMonitor:
    """Trains a Job on a worker thread: live output beside the target, a live PSNR curve, progress, Stop, and an
    epoch slider over the snapshots (the best, saved epoch among them). One monitor trains a picture at a time:
    starting a new one for the same picture stops the old one first (it saves its best, as Stop does)."""

    def __init__(self, job, snapshot_every=10, refresh_s=0.5, width=256):
        self.job, self.every, self.refresh_s, self.width = job, max(1, int(snapshot_every)), refresh_s, width
        self.target, self.key = job.target(), job.out_path().resolve()
        self.stop_event, self.thread, self.result, self.path, self.error = threading.Event(), None, None, None, None
        self.snapshots, self.scores = [], []  # (epoch, psnr, png bytes) by epoch; PSNR of every epoch
        self.first_snapshot = threading.Event()
        self._shown_at, self._why_stopped, self.best_epoch = 0.0, "", None
        self.output = _image(width=width)
        self.curve = W.HTML(_curve([], width, width // 2))
        self.status = W.HTML("ready")
        self.progress = W.IntProgress(min=0, max=int(job.epochs), description="progress")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.slider = W.SelectionSlider(options=[("none yet", -1)], description="epoch", disabled=True,
                                        continuous_update=True, layout=W.Layout(width=f"{2 * width + 100}px"))
        self.slider.observe(self._on_slide, names="value")
        self.view = W.HTML()  # what the slider shows; the status line keeps the run's news
        self.notice = W.HTML()  # what happened to an earlier run of this picture, if one was still training
        self.box = W.VBox([self.notice, W.HBox([self.output, _image(self.target, width), self.curve]),
                           W.HBox([self.progress, self.stop_button]), self.status, self.slider, self.view])

    def _ipython_display_(self):
        display(self.box)

    def start(self, wait=False):
        """Start training in the background; wait=True blocks until it ends. The Stop button, Ctrl-C or a kernel
        interrupt stop it after the current epoch, and the best weights are saved."""
        _catch_interrupts()
        self._stop_earlier_runs()
        _TRAINING.add(self)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if wait:
            self.wait()

    def _stop_earlier_runs(self, timeout=60):
        """Stop (and wait for) the monitors of this kernel that still train this picture; they save their best."""
        for m in [m for m in list(_TRAINING) if m.key == self.key]:
            m.stop(why="stopped by a newer run of this picture")
            m.thread.join(timeout)
            self.notice.value = (f"An earlier run of picture {self.job.name()} was still training: it was stopped "
                                 f"first. It reported: {m.status.value}")

    def stop(self, why="stopped"):
        self._why_stopped = why
        self.stop_event.set()
        self.status.value = "stopping after this epoch..."

    def wait(self):
        try:
            while self.thread.is_alive():
                self.thread.join(0.1)
        except KeyboardInterrupt:
            self.stop()
            self.thread.join()
        return self.result

    def _run(self):
        try:
            self.result, self.path = learn(self.job, stop=self.stop_event, on_epoch=self._on_epoch, target=self.target)
        except MorphError as e:
            self.error = e
            self.status.value = f"<b>error:</b> {e}"
            return
        finally:
            _TRAINING.discard(self)
            self.stop_button.disabled = True
        r = self.result
        if r.epochs:
            self._snap(r.epochs, r.psnr, png_bytes(render(r.net, *self.target.shape[:2])), best=True)
        where = ("nothing saved" if self.path is None else f"saved {self.path}" if self.path.resolve() == self.key
                 else "the net on disk is better")
        why = self._why_stopped if r.stopped == "stopped" else r.stopped
        self.status.value = f"{why}: best PSNR {r.psnr:.2f} dB at epoch {r.epochs}; {where}. {r.message}"

    def _on_epoch(self, epoch, score, net):
        self.progress.value = epoch
        self.scores.append(score)
        snap = epoch == 1 or epoch % self.every == 0
        now = time.monotonic()
        if not snap and now - self._shown_at < self.refresh_s:
            return
        self._shown_at = now
        frame = png_bytes(render(net, *self.target.shape[:2]))
        if snap:
            self._snap(epoch, score, frame)
        self.output.value = frame
        self.curve.value = _curve(self.scores, self.width, self.width // 2)
        self.status.value = f"epoch {epoch}: PSNR {score:.2f} dB"

    def _snap(self, epoch, score, frame, best=False):
        """Keep a snapshot for the slider (the best one replaces a snapshot of its epoch); a slider at the newest
        one follows the new one."""
        following = self.slider.disabled or self.slider.value == len(self.snapshots) - 1
        self.snapshots = sorted([s for s in self.snapshots if s[0] != epoch] + [(epoch, score, frame)])
        self.best_epoch = epoch if best else self.best_epoch
        labels = [f"{e} (best)" if e == self.best_epoch else str(e) for e, _, _ in self.snapshots]
        index = [e for e, _, _ in self.snapshots].index(epoch) if best or following else self.slider.value
        self.slider.unobserve(self._on_slide, names="value")  # new options reset the value: not a user's move
        self.slider.options = list(zip(labels, range(len(labels))))
        self.slider.value, self.slider.disabled = index, False
        self.slider.observe(self._on_slide, names="value")
        self.first_snapshot.set()
        if best:
            self._on_slide({"new": index})

    def _on_slide(self, change):
        epoch, score, frame = self.snapshots[change["new"]]
        self.output.value = frame
        self.view.value = f"showing epoch {epoch}: PSNR {score:.2f} dB"


def _curve(scores, width, height) -> str:
    """PSNR per epoch as a small SVG line chart (the best value marked), for an HTML widget."""
    if len(scores) < 2:
        return f"<svg width='{width}' height='{height}'><text x='4' y='14' font-size='12'>PSNR curve</text></svg>"
    lo, hi, n = min(scores), max(scores), len(scores)
    span = max(hi - lo, 1e-6)
    xy = " ".join(f"{4 + i * (width - 8) / (n - 1):.1f},{height - 16 - (s - lo) * (height - 32) / span:.1f}"
                  for i, s in enumerate(scores))
    return (f"<svg width='{width}' height='{height}' style='background:#fafafa'>"
            f"<polyline points='{xy}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>"
            f"<text x='4' y='12' font-size='11'>PSNR {hi:.2f} dB best</text>"
            f"<text x='4' y='{height - 3}' font-size='11'>epoch 1 .. {n}, low {lo:.1f} dB</text></svg>")


class TransitionScrubber:
    """Two pictures' nets and a t slider: the morph renders live as you drag (t < 0 or > 1 extrapolates), moved
    by the link's warp (warp.WARPS: the points saved for it, else matched features) and blended as `blend` says."""

    def __init__(self, hidden=100, a=None, b=None, *, size=192, root=".", align=False, warp=WARP, blend=BLEND):
        names = sorted((p.stem for p in weights_dir(hidden, root).glob("*.npz")), key=_natural)
        if len(names) < 2:
            raise MorphError(f"need weights of two pictures in {weights_dir(hidden, root)}/: learn them first")
        self.hidden, self.root, self.size, self._nets, self._pairs, self._warps = hidden, root, size, {}, {}, {}
        self.a = W.Dropdown(options=names, value=str(a) if a is not None else names[0], description="from")
        self.b = W.Dropdown(options=names, value=str(b) if b is not None else names[1], description="to")
        self.t = W.FloatSlider(value=0.5, min=-0.5, max=1.5, step=0.01, description="t", continuous_update=True,
                               layout=W.Layout(width=f"{max(2 * size, 500) + 150}px"))
        self.align = W.Checkbox(value=align, description="align hidden units")
        self.warp = W.Dropdown(options=list(WARPS), value=warp, description="warp")
        self.blend = W.Dropdown(options=list(BLENDS), value=blend, description="blend")
        self.image, self.status, self.note = _image(width=2 * size), W.HTML(), W.HTML()
        for w in (self.a, self.b, self.t, self.align, self.warp, self.blend):
            w.observe(lambda _: self.update(), names="value")
        self.box = W.VBox([W.HBox([self.a, self.b, self.align]), W.HBox([self.warp, self.blend]), self.t,
                           self.image, self.status, self.note])
        self.update()

    def _ipython_display_(self):
        display(self.box)

    def _net(self, name):
        if name not in self._nets:
            self._nets[name] = load_numbered(name, self.hidden, self.root)
        return self._nets[name]

    def pair(self):
        """(net A, net B), B aligned to A when the checkbox says so (cached)."""
        key = (self.a.value, self.b.value, self.align.value)
        if key not in self._pairs:
            self._pairs[key] = pair(self._net(key[0]), self._net(key[1]), key[2])
        return self._pairs[key]

    def link_warp(self):
        """(Warp or None, its line) of the link shown: cached until its saved points change."""
        a, b, folder = self.a.value, self.b.value, weights_dir(self.hidden, self.root)
        saved = [p.stat().st_mtime_ns for p in (points_file(a, b, folder), points_file(b, a, folder)) if p.is_file()]
        key = (a, b, self.warp.value, tuple(saved))
        if key not in self._warps:
            shapes = aspects([a, b], self.hidden, self.root)
            self._warps[key] = link_warp(a, b, *self.pair(), warp=self.warp.value, folder=folder,
                                         aspects=(shapes[a], shapes[b]))
        return self._warps[key]

    def update(self):
        try:
            warp, line = self.link_warp()
            t = self.t.value
            frame = (render(interpolate(*self.pair(), t), self.size) if warp is None else
                     render_warped(*self.pair(), [t], warp.maps, self.size, blend=self.blend.value)[0])
        except MorphError as e:
            self.image.layout.display = "none"  # no stale picture above the message
            self.status.value = f"<b>error:</b> {html.escape(str(e))}"
            return
        self.image.value, self.image.layout.display = png_bytes(frame), None
        self.status.value = f"{self.a.value} &rarr; {self.b.value} at t = {self.t.value:.2f}"
        self.note.value = html.escape(f"warp {line}") if line else ""


class PointEditor:
    """Pairs of points for a link, by clicking: a point on A, then its partner on B. Pairs are numbered on both
    pictures; pick a pair's number to move it (the next click on either picture moves that picture's point) or
    delete it. Every change is saved at once in W-<H>/points/<a>-<b>.json, where transitions find them."""

    def __init__(self, hidden=100, a=1, b=2, *, size=256, root="."):
        self.a, self.b, self.size = str(a), str(b), size
        self.path = points_file(self.a, self.b, weights_dir(hidden, root))
        saved = saved_points(self.a, self.b, self.path.parent.parent)
        self.pairs = [] if saved is None else saved.tolist()
        self.pictures = [render(load_numbered(n, hidden, root), size) for n in (self.a, self.b)]
        self.pending = None  # a point on A waiting for its partner on B
        self.images = [_image(width=size), _image(width=size)]
        self.events = [Event(source=im, watched_events=["click"]) for im in self.images]
        for side, event in enumerate(self.events):
            event.on_dom_event(lambda e, side=side: self.clicked(side, e))
        self.chosen = W.Dropdown(options=[("new pair", -1)], value=-1, description="pair")
        self.remove = W.Button(description="Delete pair", icon="trash")
        self.remove.on_click(lambda _: self.delete(self.chosen.value))
        self.status = W.HTML()
        self.chosen.observe(lambda _: self.draw(), names="value")
        self.box = W.VBox([W.HBox(self.images), W.HBox([self.chosen, self.remove]), self.status])
        self.draw()

    def _ipython_display_(self):
        display(self.box)

    def clicked(self, side: int, event: dict):
        """An ipyevents click event on A (side 0) or B (1)."""
        self.click(side, *_where(event, self.pictures[side].shape))

    def click(self, side: int, x: float, y: float):
        """A click at (x, y) (picture coordinates) on A (side 0) or B (1)."""
        x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        if self.chosen.value >= 0:
            self.pairs[self.chosen.value][2 * side:2 * side + 2] = [x, y]
            self._save(f"moved pair {self.chosen.value + 1}'s point on {'AB'[side]}")
        elif side == 0:
            self.pending = [x, y]
            self.draw("now click its partner on B")
        elif self.pending is None:
            self.draw("click a point on A first, then its partner on B")
        else:
            self.pairs.append(self.pending + [x, y])
            self.pending = None
            self._save(f"pair {len(self.pairs)} added")

    def delete(self, index: int):
        if 0 <= index < len(self.pairs):
            del self.pairs[index]
            self._save(f"pair {index + 1} deleted; the later ones are renumbered")

    def _save(self, what):
        write_points(self.path, self.pairs)
        self.draw(f"{what}; {len(self.pairs)} pairs saved in {self.path}")

    def draw(self, message=None):
        """Both pictures with their numbered points (a pending A point as the next number), and the pair list."""
        options = [("new pair", -1)] + [(str(i + 1), i) for i in range(len(self.pairs))]
        if [o[1] for o in self.chosen.options] != [o[1] for o in options]:
            self.chosen.options, self.chosen.value = options, -1
        pts = np.asarray(self.pairs, np.float64).reshape(-1, 4)
        on_a = pts[:, :2] if self.pending is None else np.vstack([pts[:, :2], [self.pending]])
        ring = self.chosen.value if self.chosen.value >= 0 else None
        for im, pic, marks in zip(self.images, self.pictures, (on_a, pts[:, 2:])):
            im.value = png_bytes(mark_points(pic, marks, ring=ring))
        self.status.value = html.escape(message or f"{len(self.pairs)} pairs; click a point on A, then its "
                                        "partner on B")


def _where(event, shape) -> tuple:
    """(x, y) in [0, 1] picture coordinates of an ipyevents click on a picture of `shape` (height, width): where
    it fell in the picture as shown, else (no size known) at the centre of the picture's pixel it names."""
    if event.get("boundingRectWidth") and event.get("boundingRectHeight"):
        return event["relativeX"] / event["boundingRectWidth"], event["relativeY"] / event["boundingRectHeight"]
    return (event["dataX"] + 0.5) / shape[1], (event["dataY"] + 0.5) / shape[0]


def movie_view(result, width=None):
    """What write_transition wrote, one line each, and its GIF playing at its own size (or `width` pixels wide):
    the GIF goes to the browser, not into the notebook file (widget state is not saved with it)."""
    text = W.HTML("<br>".join(html.escape(line) for line in result.get("notes", []) + summary(result)))
    if not result.get("gif"):
        return text
    with Image.open(result["gif"]) as im:
        width = width or im.width
    gif = W.Image(value=Path(result["gif"]).read_bytes(), format="gif", width=width)
    return W.VBox([text, gif])


def _natural(name):
    return (0, number(name), "") if number(name) is not None else (1, 0, name)


def progress(description="frames"):
    """(widget, callback(i, n)) for functions that report progress as on_frame/on_step."""
    bar = W.IntProgress(min=0, max=1, description=description)

    def update(i, n):
        bar.max, bar.value = n, i

    return bar, update


class HybridTuner:
    """Sliders for m_precise, m_blurred, sigma and steps over a live preview that re-optimizes from where it was
    (warm start); a 'view from afar' pyramid; Save renders the full-size picture with the same settings on a worker
    thread, with progress. Losses are shown per pixel, so the preview's and the saved picture's compare."""

    def __init__(self, near, far, *, m_precise=M_PRECISE, m_blurred=M_BLURRED, sigma=BLUR_SIGMA, steps=30, preview=192,
                 out=None):
        far, self.message = match(near, far)
        self.near, self.far, self.out = near, far, out
        self.scale = min(1.0, preview / max(near.shape[:2]))
        small_near = fit_side(near, preview)
        small_far = match(small_near, far)[0]
        self.m_precise = _weight_slider("m_precise", m_precise, 1.0)
        self.m_blurred = _weight_slider("m_blurred", m_blurred, 4.0)
        self.sigma = W.FloatSlider(value=sigma, min=0.5, max=max(12.0, sigma), step=0.5, description="sigma")
        self.steps = W.IntSlider(value=steps, min=5, max=300, step=5, description="steps")
        self.blender = Blender(small_near, small_far, kernel_size=kernel_size_for(self.sigma.max * self.scale),
                               sigma=sigma * self.scale, m_precise=m_precise, m_blurred=m_blurred)
        width = small_near.shape[1]
        self.preview, self.afar, self.status = _image(width=width), _image(width=width), W.HTML(self.message)
        self.save_button = W.Button(description="Save full size", icon="save", layout=W.Layout(width="auto"))
        self.save_button.on_click(lambda _: self.save_in_background())
        self.save_progress = W.IntProgress(min=0, max=1, description="saving", layout=W.Layout(visibility="hidden"))
        self.saved, self.thread = W.HTML(), None
        for s in (self.m_precise, self.m_blurred, self.sigma, self.steps):
            s.observe(lambda _: self.update(), names="value")
        self.box = W.VBox([W.HBox([self.m_precise, self.m_blurred]), W.HBox([self.sigma, self.steps]),
                           W.HBox([self.preview, self.afar]), self.status,
                           W.HBox([self.save_button, self.save_progress, self.saved])])
        self.update()

    def _ipython_display_(self):
        display(self.box)

    def update(self):
        self.blender.set(self.m_precise.value, self.m_blurred.value, self.sigma.value * self.scale)
        r = self.blender.run(self.steps.value)
        self.preview.value = png_bytes(r.image)
        self.afar.value = png_bytes(pyramid(r.image)[:, r.image.shape[1] + 4:])
        self.afar.width = self.afar.height = None
        self.status.value = f"preview: {_per_pixel(r)} after {self.steps.value} more steps ({r.seconds:.2f} s)"
        return r

    def save(self, path=None, steps=200, on_step=None):
        """Optimize the full-size picture with the sliders' settings and write it (default: `out`)."""
        r = Blender(self.near, self.far, sigma=self.sigma.value, m_precise=self.m_precise.value,
                    m_blurred=self.m_blurred.value).run(steps, on_step=on_step, every=max(1, steps // 50))
        path = save_image(path or self.out or OUTPUT, r.image)
        self.saved.value = (f"saved {path} ({r.image.shape[1]}x{r.image.shape[0]}, m_precise "
                            f"{self.m_precise.value:g}, m_blurred {self.m_blurred.value:g}, sigma "
                            f"{self.sigma.value:g}): {_per_pixel(r)}")
        return r, path

    def save_in_background(self, path=None, steps=200):
        """What the Save button does: save() on a worker thread, the button disabled and a progress bar shown
        until it is written (a second click meanwhile does nothing)."""
        if self.thread is not None and self.thread.is_alive():
            return
        self.save_button.disabled, self.saved.value = True, "optimizing the full-size picture..."
        self.save_progress.value, self.save_progress.max, self.save_progress.layout.visibility = 0, steps, None

        def tick(i, n, _):
            self.save_progress.value = i

        def work():
            try:
                self.save(path, steps, on_step=tick)
            except MorphError as e:
                self.saved.value = f"<b>error:</b> {e}"
            finally:
                self.save_button.disabled, self.save_progress.layout.visibility = False, "hidden"

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()
        return self.thread


def _weight_slider(name, value, top):
    """A linear slider that holds the given weight exactly (a log slider cannot show 0.3)."""
    return W.FloatSlider(value=value, min=0.0, max=max(top, value), step=0.001, description=name,
                         readout_format=".3f", layout=W.Layout(width="420px"))


def _per_pixel(r) -> str:
    """A report's loss and its two parts per pixel: the same scale at any picture size."""
    n = r.image.shape[0] * r.image.shape[1]
    return (f"loss per pixel {r.loss / n:.4f} (precise {r.loss_precise / n:.4f}, "
            f"blurred {r.loss_blurred / n:.4f})")


def learn_all(items, job=None, **options) -> list:
    """parallel.learn_all with a progress bar over the pictures and a line per picture as it ends (its PSNR, or
    why it failed). Returns the Outcomes (None after a kernel interrupt, which keeps what was learned)."""
    bar = W.IntProgress(min=0, max=1, description="pictures")
    lines = W.VBox([])
    display(W.VBox([bar, lines]))

    def show(o, done, total):
        bar.max, bar.value = total, done
        text = f"{o.name}: {o.error}" if o.failed else f"{o.name}: {o.result.psnr:.2f} dB -> {o.path}"
        lines.children = (*lines.children, W.HTML(html.escape(text)))

    try:
        return parallel.learn_all(items, job, on_picture=show, **options)
    except KeyboardInterrupt:  # a kernel interrupt: what the workers had learned is saved, as the lines say
        lines.children = (*lines.children, W.HTML("interrupted: the nets listed above with their PSNR are saved"))
        return None
