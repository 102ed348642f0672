"""ipywidgets front ends: watch and stop training, scrub epochs and transitions, tune hybrids. No math here."""
import html
import os
import signal
import threading
import time
from pathlib import Path

import ipywidgets as W
import numpy as np
from ipyevents import Event
from IPython import get_ipython
from IPython.display import HTML, display

from . import parallel
from .checks import number
from .encoding import FIT, view
from .errors import MorphError
from .hybrid import BLUR_SIGMA, FTOL, M_BLURRED, M_PRECISE, OUTPUT, Blender, Progress, kernel_size_for, match, pyramid
from .images import fit_side, mark_points, png_bytes, save_image
from .learn import learn, nets, on_disk, strangers
from .render import BLEND, BLENDS, picture_psnr, render
from .transition import Plan, aspects, pair, parse_size, preview_size, summary
from .warp import WARP, WARPS, link_warp, points_file, saved_points, write_points
from .weights import load_numbered, restore, weights_dir


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
    """Trains a Job on a worker thread: live output beside the target, a live PSNR curve, progress, Stop, an epoch
    slider over the snapshots (the best, saved epoch among them) and the picture's nets with Restore. Every PSNR
    shown is measured on the whole picture, as the keep rule measures nets. While the slider looks back, the live
    view waits (and says so) until it is back at the end. One monitor trains a picture at a time: starting a new
    one for the same picture stops the old one first (it saves its best, as Stop does)."""

    def __init__(self, job, snapshot_every=10, refresh_s=0.5, width=256):
        self.job, self.every, self.refresh_s, self.width = job, max(1, int(snapshot_every)), refresh_s, width
        self.target, self.key, self.first = job.target(), job.out_path().resolve(), job.epochs_before()
        self.stop_event, self.thread, self.result, self.path, self.error = threading.Event(), None, None, None, None
        self.snapshots, self.measured = [], []  # (epoch, psnr, png bytes) by epoch; (epoch, psnr) of epochs shown
        self.first_snapshot, self.training, self.live = threading.Event(), False, None  # live: the newest shown
        self._lock, self._quiet = threading.RLock(), threading.local()  # the slider: the worker's, the user's
        self._shown_at, self._why_stopped, self.best_epoch, self._notes = 0.0, "", None, []
        self.output = _image(width=width)
        self.curve = W.HTML(_curve([], width + 60, width // 2 + 40))
        self.status = W.HTML("ready")
        self.progress = W.IntProgress(min=self.first, max=self.first + int(job.epochs), description="progress")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.slider = W.SelectionSlider(options=[("none yet", -1)], description="epoch", disabled=True,
                                        continuous_update=True, layout=W.Layout(width=f"{2 * width + 160}px"))
        self.slider.observe(self._on_slide, names="value")
        self.view = W.HTML()  # what the slider shows; the status line keeps the run's news
        self.notice = W.HTML()  # an earlier run of this picture that was stopped; the net on disk to beat
        self.nets = NetHistory(job)
        self.box = W.VBox([self.notice, W.HBox([self.output, _image(self.target, width), self.curve]),
                           W.HBox([self.progress, self.stop_button]), self.status, self.slider, self.view,
                           self.nets.box])

    def _ipython_display_(self):
        display(self.box)

    def start(self, wait=False):
        """Start training in the background; wait=True blocks until it ends. The Stop button, Ctrl-C or a kernel
        interrupt stop it after the current epoch, and the best weights are saved."""
        _catch_interrupts()
        self._stop_earlier_runs()
        _TRAINING.add(self)
        self.training = True
        self.nets.refresh(busy=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if wait:
            self.wait()

    def _note(self, text):
        self._notes.append(text)
        self.notice.value = "<br>".join(self._notes)

    def _stop_earlier_runs(self, timeout=60):
        """Stop (and wait for) the monitors of this kernel that still train this picture; they save their best."""
        for m in [m for m in list(_TRAINING) if m.key == self.key]:
            m.stop(why="stopped by a newer run of this picture")
            m.thread.join(timeout)
            self._note(f"An earlier run of picture {self.job.name()} was still training: it was stopped first. "
                       f"It reported: {m.status.value}")

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
            self._say_what_is_on_disk()
            self.result, self.path = learn(self.job, stop=self.stop_event, on_epoch=self._on_epoch, target=self.target)
        except MorphError as e:
            self.error = e
            self.status.value = f"<b>error:</b> {e}"
            return
        finally:
            _TRAINING.discard(self)
            self.training, self.stop_button.disabled = False, True
            self.nets.refresh()
        r = self.result
        if r.epochs:
            frame = png_bytes(render(r.net, *self.target.shape[:2]))
            with self._lock:
                self._snap(r.epochs, r.psnr, frame, best=True)
        where = ("nothing saved" if self.path is None else f"saved {self.path}" if self.path.resolve() == self.key
                 else "the net on disk is better")
        why = self._why_stopped if r.stopped == "stopped" else r.stopped
        how = (": pick it in the list below and Restore it to use it, or set REPLACE = True and run again"
               if self.path is not None and where != f"saved {self.path}" else "")
        self._draw_curve()  # before the status line: a page that reads it finds the curve final
        self.status.value = html.escape(f"{why}: best PSNR {r.psnr:.2f} dB at epoch {r.epochs}; {where}. "
                                        f"{r.message}{how}")

    def _say_what_is_on_disk(self):
        if note := strangers(self.job):
            self._note(note + ".")
        old = on_disk(self.job, self.target)
        if old is not None:
            anyway = "it is replaced anyway (REPLACE)" if self.job.replace else "REPLACE = True replaces it anyway"
            self._note(f"{self.job.out_path()} holds a net of {old:.2f} dB: this run's net replaces it only if it "
                       f"measures better ({anyway}).")

    def _on_epoch(self, epoch, score, net):
        self.progress.value = epoch
        snap = epoch == self.first + 1 or epoch % self.every == 0
        now = time.monotonic()
        if not snap and now - self._shown_at < self.refresh_s:
            return
        self._shown_at = now
        rgb = render(net, *self.target.shape[:2])
        measured, frame = picture_psnr(rgb, self.target), png_bytes(rgb)
        self.measured.append((epoch, measured))
        self.live = (epoch, measured, frame)
        with self._lock:
            if snap:
                self._snap(epoch, measured, frame)
            if self._following():
                self.output.value = frame
            else:
                self._show(self.slider.value)  # the live view waits: say how far training is
            self._draw_curve()
        self.status.value = f"epoch {epoch}: PSNR {measured:.2f} dB"

    def _following(self) -> bool:
        return self.slider.disabled or self.slider.value == len(self.slider.options) - 1

    def _snap(self, epoch, score, frame, best=False):
        """Keep a snapshot (the best one replaces a snapshot of its epoch). A slider at its end follows: it gets
        the new snapshot and stays at the end; a slider looking back keeps its options until it is back at the
        end, so that the end the user drags to is the end they see. The caller holds the lock."""
        seen, following = self.slider.value, self._following()
        self.snapshots = sorted([s for s in self.snapshots if s[0] != epoch] + [(epoch, score, frame)])
        self.best_epoch = epoch if best else self.best_epoch
        self.first_snapshot.set()
        if following or best:
            self._list_snapshots([e for e, _, _ in self.snapshots].index(epoch), unless_moved_from=None if best
                                 else seen)
        if best:
            self._show(self.slider.value)

    def _list_snapshots(self, index, unless_moved_from=None):
        """The slider over every snapshot so far, at `index`, unless the user moved it away from
        `unless_moved_from` meanwhile (their move wins). Its own changes are not a user's move (_on_slide)."""
        labels = [f"{e} (best)" if e == self.best_epoch else str(e) for e, _, _ in self.snapshots]
        self._quiet.on = True
        try:
            self.slider.options = list(zip(labels, range(len(labels))))
            if unless_moved_from is None or self.slider.value == unless_moved_from:
                self.slider.value = index
            self.slider.disabled = False
        finally:
            self._quiet.on = False

    def _on_slide(self, change):
        if getattr(self._quiet, "on", False):  # this thread's own change of the slider
            return
        with self._lock:  # after a snapshot being listed: then the slider holds this move
            self._show(self.slider.value)
            self._draw_curve()

    def _show(self, index):
        """Show snapshot `index`; while training, the end of the slider follows the live view."""
        if self.training and self.live is not None and index == len(self.slider.options) - 1:
            self._list_snapshots(len(self.snapshots) - 1)  # the snapshots made while the user looked back
            self.output.value = self.live[2]
            self.view.value = "following training: the newest epoch is shown"
            return
        epoch, score, frame = self.snapshots[index]
        self.output.value = frame
        waits = (f"; the live view waits at epoch {self.live[0]} while you look back: move the slider to the end "
                 "to follow training again") if self.training and self.live is not None else ""
        self.view.value = f"showing epoch {epoch}: PSNR {score:.2f} dB{waits}"

    def _draw_curve(self):
        """The curve of measured PSNR, the epoch the slider shows marked, the best labelled as the message says."""
        looking_back = self.snapshots and not (self.training and self._following())
        shown = self.snapshots[self.slider.value][0] if looking_back else None
        if self.training or self.result is None:
            best = max(self.measured, key=lambda m: m[1], default=None)
            label = best and f"best so far {best[1]:.2f} dB (epoch {best[0]})"
        else:
            label = f"best {self.result.psnr:.2f} dB (epoch {self.result.epochs})"
        self.curve.value = _curve(self.measured, self.width + 60, self.width // 2 + 40, marker=shown, label=label)


class NetHistory:
    """A picture's current net and the nets it replaced or that were kept apart (PSNR measured as the keep rule
    measures it, epochs, when trained), with Restore for the one picked."""

    def __init__(self, job):
        self.job = job
        self.current = W.HTML()
        self.list = W.Select(options=[], rows=3, layout=W.Layout(width="560px"))
        self.button = W.Button(description="Restore", icon="undo", layout=W.Layout(width="auto"),
                               tooltip="make the net picked the current one; the current one goes into the history")
        self.button.on_click(lambda _: self.restore())
        self.message = W.HTML()
        self.box = W.VBox([self.current, W.HBox([self.list, self.button]), self.message])
        self.refresh()

    def refresh(self, busy=False):
        """List the nets again; busy=True (while the picture trains): Restore waits."""
        current, *old = nets(self.job)
        where = self.job.out_path()
        self.current.value = (f"<b>{where}</b>: " + (_net_line(current) if current else "none yet") +
                              (f"; {len(old)} in its history (newest first):" if old else "; no history yet"))
        self.list.options = [(f"{i}: {_net_line(e)}", i) for i, e in enumerate(old)]
        self.list.value = 0 if old else None
        self.list.layout.display = self.button.layout.display = None if old else "none"
        self.button.disabled = busy

    def restore(self):
        index = self.list.value
        if index is None:
            return
        try:
            path = restore(self.job.name(), self.job.hidden, index, self.job.root)
        except MorphError as e:
            self.message.value = f"<b>error:</b> {html.escape(str(e))}"
            return
        self.refresh()
        self.message.value = f"restored entry {index}: it is {path} now; the net it replaced is entry 0 of the history"


def _net_line(e) -> str:
    score = "? dB" if e.psnr is None else f"{e.psnr:.2f} dB"
    return f"{score}, {e.epochs if e.epochs is not None else '?'} epochs, {e.date}"


def _curve(points, width, height, *, marker=None, label=None) -> str:
    """PSNR per epoch, (epoch, dB) points, as a small SVG chart with axes for an HTML widget; `marker`: an
    epoch to mark (the one the slider shows); `label`: the best, as a line of text."""
    if len(points) < 2:
        return f"<svg width='{width}' height='{height}'><text x='4' y='14' font-size='12'>PSNR curve</text></svg>"
    left, top, right, bottom = 44, 18, width - 8, height - 22
    (e0, e1), (lo, hi) = ((min(v), max(v)) for v in zip(*points))
    x = lambda e: left + (e - e0) * (right - left) / max(e1 - e0, 1)  # noqa: E731
    y = lambda s: bottom - (s - lo) * (bottom - top) / max(hi - lo, 1e-6)  # noqa: E731
    xy = " ".join(f"{x(e):.1f},{y(s):.1f}" for e, s in points)
    mark = "" if marker is None else (
        f"<line x1='{x(marker):.1f}' y1='{top}' x2='{x(marker):.1f}' y2='{bottom}' stroke='#d62728' "
        f"stroke-dasharray='3,2'/><text x='{min(x(marker) + 3, right - 60):.1f}' y='{top + 10}' font-size='10' "
        f"fill='#d62728'>epoch {marker}</text>")
    return (f"<svg width='{width}' height='{height}' style='background:#fafafa' font-family='sans-serif'>"
            f"<line x1='{left}' y1='{top}' x2='{left}' y2='{bottom}' stroke='#555'/>"
            f"<line x1='{left}' y1='{bottom}' x2='{right}' y2='{bottom}' stroke='#555'/>"
            f"<text x='{left - 3}' y='{top + 4}' font-size='10' text-anchor='end'>{hi:.1f}</text>"
            f"<text x='{left - 3}' y='{bottom}' font-size='10' text-anchor='end'>{lo:.1f}</text>"
            f"<text x='2' y='{(top + bottom) / 2:.0f}' font-size='10'>dB</text>"
            f"<text x='{left}' y='{height - 8}' font-size='10' text-anchor='middle'>{e0}</text>"
            f"<text x='{right}' y='{height - 8}' font-size='10' text-anchor='end'>{e1}</text>"
            f"<text x='{(left + right) / 2:.0f}' y='{height - 8}' font-size='10' text-anchor='middle'>epoch</text>"
            f"<polyline points='{xy}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>{mark}"
            f"<text x='{left + 4}' y='12' font-size='11'>PSNR, {html.escape(label or '')}</text></svg>")


class TransitionScrubber:
    """Two pictures' nets and a t slider: the morph renders live as you drag (t < 0 or > 1 extrapolates), moved
    by the link's warp (warp.WARPS: the points saved for it, else matched features) and blended as `blend` says,
    in the shape of the frames that will be rendered (`frame` size and `fit`, as write_transition places them),
    its longer side `size` pixels."""

    def __init__(self, hidden=100, a=None, b=None, *, size=192, frame=None, fit=FIT, root=".", align=False,
                 warp=WARP, blend=BLEND):
        names = sorted((p.stem for p in weights_dir(hidden, root).glob("*.npz")), key=_natural)
        if len(names) < 2:
            raise MorphError(f"need weights of two pictures in {weights_dir(hidden, root)}/: learn them first")
        self.frame = parse_size(size if frame is None else frame)
        view(self.frame, fit=fit)  # an unknown fit is refused here
        self.hidden, self.root, self.fit, self._nets, self._pairs, self._warps = hidden, root, fit, {}, {}, {}
        self.shape = preview_size(self.frame, size)
        self.a = W.Dropdown(options=names, value=str(a) if a is not None else names[0], description="from")
        self.b = W.Dropdown(options=names, value=str(b) if b is not None else names[1], description="to")
        self.t = W.FloatSlider(value=0.5, min=-0.5, max=1.5, step=0.01, description="t", continuous_update=True,
                               layout=W.Layout(width=f"{max(2 * size, 500) + 150}px"))
        self.align = W.Checkbox(value=align, description="align hidden units")
        self.warp = W.Dropdown(options=list(WARPS), value=warp, description="warp")
        self.blend = W.Dropdown(options=list(BLENDS), value=blend, description="blend")
        self.image, self.status, self.note = _image(width=2 * self.shape[0]), W.HTML(), W.HTML()
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
        a, b = self.a.value, self.b.value
        try:
            warp, line = self.link_warp()
            plan = Plan.of([(a, b, self.t.value)], dict(zip((a, b), self.pair())), self.shape, fit=self.fit,
                           aspects=aspects([a, b], self.hidden, self.root), blend=self.blend.value,
                           warps=None if warp is None else {(a, b): warp})
            rgb = next(plan.render())
        except MorphError as e:
            self.image.layout.display = "none"  # no stale picture above the message
            self.status.value = f"<b>error:</b> {html.escape(str(e))}"
            return
        self.image.value, self.image.layout.display = png_bytes(rgb), None
        (w, h), (pw, ph) = self.frame, self.shape
        self.status.value = (f"{a} &rarr; {b} at t = {self.t.value:.2f}: a {w}x{h} frame ({self.fit}), "
                             f"previewed at {pw}x{ph}")
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
    """What write_transition wrote, one line each, and its GIF playing at its own size (or `width` pixels wide),
    as plain HTML: it stays in the notebook after it is closed, and the GIF is read from its file (it must be
    under the notebook's folder), not stored in the notebook."""
    lines = "<br>".join(html.escape(line) for line in result.get("notes", []) + summary(result))
    gif = result.get("gif")
    if not gif:
        return HTML(lines)
    where = Path(os.path.relpath(Path(gif).resolve(), Path.cwd()))
    if where.parts[0] == "..":
        return HTML(f"{lines}<br>(the GIF is outside the notebook's folder: open it there)")
    size = f" width='{int(width)}'" if width else ""
    return HTML(f"{lines}<br><img src='{html.escape(where.as_posix())}'{size} alt='the transition as a GIF'>")


def _natural(name):
    return (0, number(name), "") if number(name) is not None else (1, 0, name)


def progress(description="frames"):
    """A progress bar, shown now, and its callback(i, n) for functions that report progress as on_frame does.
    Once done, the bar gives way to a line of text: that stays in the notebook after it is closed (widgets do not)."""
    bar = W.IntProgress(min=0, max=1, description=description)
    handle = display(bar, display_id=True)

    def update(i, n):
        bar.max, bar.value = n, i
        if i == n:
            handle.update(HTML(f"{description}: {n} of {n} done"))
            bar.close()

    return update


SETTLE_S = 0.4  # a slider move this soon after the one before is part of a drag: quick previews until it stops
QUICK = 0.5  # the quick preview's side, of the full preview's
BUSY_STYLE = "<style>.morphlib-busy {opacity: 0.45; transition: opacity 0.2s}</style>"


class HybridTuner:
    """Sliders for m_precise, m_blurred, sigma and the preview's steps over a live preview that re-optimizes from
    where it was (warm start) on a worker thread: a move fades the preview at once, a newer move drops the work
    of an older one, a drag gets quick half-size previews and the full one when it stops. A 'view from afar'
    pyramid; Save renders the full-size picture with the same settings (not the preview's steps), with progress
    as the optimizer converges. Losses are shown per pixel, so the preview's and the saved picture's compare."""

    def __init__(self, near, far, *, m_precise=M_PRECISE, m_blurred=M_BLURRED, sigma=BLUR_SIGMA, steps=30, preview=192,
                 out=None):
        far, self.message = match(near, far)
        self.near, self.far, self.out, self.side, self.blenders = near, far, out, preview, {}
        self.m_precise = _weight_slider("m_precise", m_precise, 1.0)
        self.m_blurred = _weight_slider("m_blurred", m_blurred, 4.0)
        self.sigma = W.FloatSlider(value=sigma, min=0.5, max=max(12.0, sigma), step=0.5, description="sigma")
        self.steps = W.IntSlider(value=steps, min=5, max=300, step=5, description="preview steps",
                                 style={"description_width": "initial"}, layout=W.Layout(width="420px"))
        width = fit_side(near, preview).shape[1]
        self.preview, self.afar, self.status = _image(width=width), _image(width=width), W.HTML(self.message)
        self.save_button = W.Button(description="Save full size", icon="save",
                                    layout=W.Layout(width="auto", min_width="150px", flex="0 0 auto"))
        self.save_button.on_click(lambda _: self.save_in_background())
        self.save_bar = W.IntProgress(min=0, max=1000, description="saving", layout=W.Layout(visibility="hidden"))
        self.saved, self.thread = W.HTML(), None
        self.saving = W.VBox([W.HBox([self.save_button, self.save_bar]), self.saved])  # shown by the save cell too
        note = W.HTML("<i>preview steps: the live preview's steps after each move; Save uses its own (STEPS)</i>")
        self.box = W.VBox([W.HTML(BUSY_STYLE), W.HBox([self.m_precise, self.m_blurred]),
                           W.HBox([self.sigma, self.steps]), note, W.HBox([self.preview, self.afar]), self.status,
                           self.saving])
        self._moves, self._moved_at, self._wake = 0, 0.0, threading.Event()
        self.update()
        for s in (self.m_precise, self.m_blurred, self.sigma, self.steps):
            s.observe(self._on_move, names="value")
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    def _ipython_display_(self):
        display(self.box)

    def _settings(self) -> str:
        return (f"m_precise {self.m_precise.value:.3f}, m_blurred {self.m_blurred.value:.3f}, "
                f"sigma {self.sigma.value:g}")

    def _on_move(self, _):
        """A slider moved: fade the preview and say so at once; the worker makes the new one."""
        self._moves, self._moved_at = self._moves + 1, time.monotonic()
        for image in (self.preview, self.afar):
            image.add_class("morphlib-busy")
        self.status.value = f"<b>updating the preview</b> for {self._settings()}..."
        self._wake.set()

    def _work(self):
        """The worker: the preview of the newest settings, quick while moves keep coming, then the full one."""
        while self._wake.wait():
            self._wake.clear()
            move = self._moves
            quick = time.monotonic() - self._moved_at < SETTLE_S
            self.update(quick, stop=lambda move=move: self._moves != move)
            if self._moves == move and quick and not self._wake.wait(SETTLE_S):
                self._wake.set()  # the moves stopped: the full preview now

    def wait(self, timeout=120) -> bool:
        """Until the full preview of the newest settings is shown (True), or `timeout` seconds (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._shown == (self._moves, False):
                return True
            time.sleep(0.02)
        return False

    def _blender(self, side) -> tuple:
        """(Blender of the preview whose longer side is `side`, its scale of the full size), made once."""
        if side not in self.blenders:
            near = fit_side(self.near, side)
            scale = near.shape[1] / self.near.shape[1]
            self.blenders[side] = Blender(near, match(near, self.far)[0], sigma=self.sigma.value * scale,
                                          kernel_size=kernel_size_for(self.sigma.max * scale),
                                          m_precise=self.m_precise.value, m_blurred=self.m_blurred.value), scale
        return self.blenders[side]

    def update(self, quick=False, stop=None):
        """Re-optimize the preview (quick: the half-size one) with the sliders' settings and show it, unless
        `stop()` turns true meanwhile (a newer move: this one is stale). Returns the report, None when stale."""
        move, settings = self._moves, self._settings()
        side = max(8, round(self.side * QUICK)) if quick else self.side
        b, scale = self._blender(side)
        b.set(self.m_precise.value, self.m_blurred.value, self.sigma.value * scale)
        r = b.run(self.steps.value, stop=stop)
        if stop is not None and stop():
            return None
        self.preview.value = png_bytes(r.image)
        self.afar.value = png_bytes(pyramid(r.image)[:, r.image.shape[1] + 4:])
        self.afar.width = self.afar.height = None
        if not quick:  # before the status line: a page that reads it finds the preview done
            for image in (self.preview, self.afar):
                image.remove_class("morphlib-busy")
        what = f"quick preview ({side} px) while you drag" if quick else "preview"
        self.status.value = (f"{what}: {r.per_pixel()} after {self.steps.value} more steps ({r.seconds:.2f} s), "
                             f"{settings}")
        self._shown = (move, quick)
        return r

    def save(self, path=None, steps=200):
        """Optimize the full-size picture with the sliders' settings and write it (default: `out`). Progress as
        the optimizer converges and the time left show below the tuner (and wherever `saving` is displayed);
        the Save button waits meanwhile."""
        settings = (self.m_precise.value, self.m_blurred.value, self.sigma.value)
        self.save_button.disabled, self.save_bar.value, self.save_bar.layout.visibility = True, 0, None
        self.saved.value = "starting: TensorFlow prepares the full-size picture (the first save takes longest)..."
        track = Progress(steps)

        def tick(i, n, losses):
            done, left, change = track.update(i, losses[1])
            self.save_bar.value = round(1000 * done)
            self.saved.value = _save_progress(i, n, change, left)

        try:
            r = Blender(self.near, self.far, sigma=settings[2], m_precise=settings[0],
                        m_blurred=settings[1]).run(steps, on_step=tick, every=1)
            path = save_image(path or self.out or OUTPUT, r.image)
        finally:
            self.save_button.disabled, self.save_bar.layout.visibility = False, "hidden"
        self.saved.value = (f"saved {path} ({r.image.shape[1]}x{r.image.shape[0]}, m_precise {settings[0]:g}, "
                            f"m_blurred {settings[1]:g}, sigma {settings[2]:g}): {r.per_pixel()}, "
                            f"{len(r.history)} steps in {r.seconds:.0f} s")
        return r, path

    def save_in_background(self, path=None, steps=200):
        """What the Save button does: save() on a worker thread (a second click meanwhile does nothing)."""
        if self.thread is not None and self.thread.is_alive():
            return
        self.save_button.disabled = True

        def work():
            try:
                self.save(path, steps)
            except MorphError as e:
                self.saved.value = f"<b>error:</b> {e}"

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()
        return self.thread


def _save_progress(i, steps, change, left) -> str:
    """A line on a save under way: its L-BFGS iteration, the loss's change per step against the tolerance
    where it ends, and the time left."""
    pace = "" if change is None else f": the loss changes {change:.1e} per step, it ends below {FTOL:.0e}"
    eta = "" if left is None else f"; about {left:.0f} s left"
    return f"saving: iteration {i} of at most {steps}{pace}{eta}"


def _weight_slider(name, value, top):
    """A linear slider that holds the given weight exactly (a log slider cannot show 0.3)."""
    return W.FloatSlider(value=value, min=0.0, max=max(top, value), step=0.001, description=name,
                         readout_format=".3f", layout=W.Layout(width="420px"))


def learn_all(items, job=None, **options) -> list:
    """parallel.learn_all with a progress bar over the pictures and a line per picture as it ends (its PSNR, or
    why it failed). Returns the Outcomes (None after a kernel interrupt, which keeps what was learned)."""
    bar = W.IntProgress(min=0, max=1, description="pictures")
    lines = W.VBox([])
    display(W.VBox([bar, lines]))

    def show(o, done, total):
        bar.max, bar.value = total, done
        text = (f"{o.name}: {o.error}" if o.failed else
                f"{o.name}: {o.result.psnr:.2f} dB -> {o.path} ({o.result.stopped}) {o.result.message}".rstrip())
        lines.children = (*lines.children, W.HTML(html.escape(text)))

    try:
        return parallel.learn_all(items, job, on_picture=show, **options)
    except KeyboardInterrupt:  # a kernel interrupt: what the workers had learned is saved, as the lines say
        lines.children = (*lines.children, W.HTML("interrupted: the nets listed above with their PSNR are saved"))
        return None
