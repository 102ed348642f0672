"""ipywidgets front ends: watch and stop training, scrub epochs and transitions, tune hybrids. No math here."""
import signal
import threading
import time

import ipywidgets as W
from IPython import get_ipython
from IPython.display import display

from .errors import MorphError
from .hybrid import M_BLURRED, M_PRECISE, OUTPUT, SIGMA, Blender, kernel_size_for, match, pyramid
from .images import fit_side, png_bytes, save_image
from .learn import learn
from .mlp import render
from .transition import interpolate, pair
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
    """Trains a Job on a worker thread: live output beside the target, PSNR, progress, Stop, snapshot slider."""

    def __init__(self, job, snapshot_every=10, refresh_s=0.5, width=256):
        self.job, self.every, self.refresh_s = job, max(1, int(snapshot_every)), refresh_s
        self.target = job.target()
        self.stop_event, self.thread, self.result, self.path, self.error = threading.Event(), None, None, None, None
        self.snapshots = []  # (epoch, psnr, png bytes)
        self.first_snapshot = threading.Event()
        self._shown_at = 0.0
        self.output = _image(width=width)
        self.status = W.HTML("ready")
        self.progress = W.IntProgress(min=0, max=int(job.epochs), description="epoch")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.slider = W.IntSlider(description="snapshot", min=0, max=0, disabled=True, continuous_update=True)
        self.slider.observe(self._on_slide, names="value")
        self.box = W.VBox([W.HBox([self.output, _image(self.target, width)]),
                           W.HBox([self.progress, self.stop_button]), self.status, self.slider])

    def _ipython_display_(self):
        display(self.box)

    def start(self, wait=False):
        """Start training in the background; wait=True blocks until it ends. The Stop button, Ctrl-C or a kernel
        interrupt stop it after the current epoch, and the best weights are saved."""
        _catch_interrupts()
        _TRAINING.add(self)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if wait:
            self.wait()

    def stop(self):
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
        r = self.result
        where = f"saved {self.path}" if self.path else "nothing saved"
        self.status.value = f"{r.stopped}: best PSNR {r.psnr:.2f} dB at epoch {r.epochs}; {where}. {r.message}"
        self.stop_button.disabled = True

    def _on_epoch(self, epoch, score, net):
        self.progress.value = epoch
        snap = epoch == 1 or epoch % self.every == 0
        now = time.monotonic()
        if not snap and now - self._shown_at < self.refresh_s:
            return
        self._shown_at = now
        frame = png_bytes(render(net, *self.target.shape[:2]))
        if snap:
            self.snapshots.append((epoch, score, frame))
            self.first_snapshot.set()
            following = self.slider.disabled or self.slider.value == self.slider.max
            self.slider.max, self.slider.disabled = len(self.snapshots) - 1, False
            if following:
                self.slider.value = self.slider.max
        self.output.value = frame
        self.status.value = f"epoch {epoch}: PSNR {score:.2f} dB"

    def _on_slide(self, change):
        epoch, score, frame = self.snapshots[change["new"]]
        self.output.value = frame
        self.slider.description = f"epoch {epoch}"
        self.status.value = f"snapshot of epoch {epoch}: PSNR {score:.2f} dB"


class TransitionScrubber:
    """Two pictures' nets and a t slider: the morph renders live as you drag (t < 0 or > 1 extrapolates)."""

    def __init__(self, hidden=100, a=None, b=None, *, size=192, root=".", align=False):
        names = sorted((p.stem for p in weights_dir(hidden, root).glob("*.npz")), key=_natural)
        if len(names) < 2:
            raise MorphError(f"need weights of two pictures in {weights_dir(hidden, root)}/: learn them first")
        self.hidden, self.root, self.size, self._nets, self._pairs = hidden, root, size, {}, {}
        self.a = W.Dropdown(options=names, value=str(a) if a is not None else names[0], description="from")
        self.b = W.Dropdown(options=names, value=str(b) if b is not None else names[1], description="to")
        self.t = W.FloatSlider(value=0.5, min=-0.5, max=1.5, step=0.01, description="t", continuous_update=True)
        self.align = W.Checkbox(value=align, description="align hidden units")
        self.image, self.status = _image(width=2 * size), W.HTML()
        for w in (self.a, self.b, self.t, self.align):
            w.observe(lambda _: self.update(), names="value")
        self.box = W.VBox([W.HBox([self.a, self.b, self.align]), self.t, self.image, self.status])
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

    def update(self):
        try:
            frame = render(interpolate(*self.pair(), self.t.value), self.size)
        except MorphError as e:
            self.status.value = f"<b>error:</b> {e}"
            return
        self.image.value = png_bytes(frame)
        self.status.value = f"{self.a.value} &rarr; {self.b.value} at t = {self.t.value:.2f}"


def _natural(name):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def progress(description="frames"):
    """(widget, callback(i, n)) for functions that report progress as on_frame/on_step."""
    bar = W.IntProgress(min=0, max=1, description=description)

    def update(i, n):
        bar.max, bar.value = n, i

    return bar, update


class HybridTuner:
    """Sliders for m_precise, m_blurred, sigma and steps over a live preview that re-optimizes from where it was
    (warm start); a 'view from afar' pyramid; Save renders the full-size picture with the same settings."""

    def __init__(self, near, far, *, m_precise=M_PRECISE, m_blurred=M_BLURRED, sigma=SIGMA, steps=30, preview=192,
                 out=None):
        far, self.message = match(near, far)
        self.near, self.far, self.out = near, far, out
        self.scale = min(1.0, preview / max(near.shape[:2]))
        small_near = fit_side(near, preview)
        small_far = match(small_near, far)[0]
        self.m_precise = W.FloatLogSlider(value=m_precise, base=10, min=-3, max=1, step=0.1, description="m_precise")
        self.m_blurred = W.FloatLogSlider(value=m_blurred, base=10, min=-2, max=1, step=0.1, description="m_blurred")
        self.sigma = W.FloatSlider(value=sigma, min=0.5, max=12, step=0.5, description="sigma")
        self.steps = W.IntSlider(value=steps, min=5, max=300, step=5, description="steps")
        self.blender = Blender(small_near, small_far, kernel_size=kernel_size_for(self.sigma.max * self.scale),
                               sigma=sigma * self.scale, m_precise=m_precise, m_blurred=m_blurred)
        width = small_near.shape[1]
        self.preview, self.afar, self.status = _image(width=width), _image(width=width), W.HTML(self.message)
        self.save_button = W.Button(description="Save full size", icon="save")
        self.save_button.on_click(lambda _: self.save())
        for s in (self.m_precise, self.m_blurred, self.sigma, self.steps):
            s.observe(lambda _: self.update(), names="value")
        self.box = W.VBox([W.HBox([self.m_precise, self.m_blurred]), W.HBox([self.sigma, self.steps]),
                           W.HBox([self.preview, self.afar]), W.HBox([self.save_button, self.status])])
        self.update()

    def _ipython_display_(self):
        display(self.box)

    def update(self):
        self.blender.set(self.m_precise.value, self.m_blurred.value, self.sigma.value * self.scale)
        r = self.blender.run(self.steps.value)
        self.preview.value = png_bytes(r.image)
        self.afar.value = png_bytes(pyramid(r.image)[:, r.image.shape[1] + 4:])
        self.afar.width = self.afar.height = None
        self.status.value = (f"loss {r.loss:.1f} (precise {r.loss_precise:.1f}, blurred {r.loss_blurred:.1f}) "
                             f"after {r.steps} steps, {r.seconds:.2f} s")
        return r

    def save(self, path=None, steps=200):
        """Optimize the full-size picture with the sliders' settings and write it (default: `out`)."""
        r = Blender(self.near, self.far, sigma=self.sigma.value, m_precise=self.m_precise.value,
                    m_blurred=self.m_blurred.value).run(steps)
        path = save_image(path or self.out or OUTPUT, r.image)
        self.status.value = f"saved {path} ({r.image.shape[1]}x{r.image.shape[0]}, loss {r.loss:.1f})"
        return r, path


import html  # noqa: E402 (appended with learn_all below, to keep the widgets above untouched)

from . import parallel  # noqa: E402


def learn_all(items, job=None, **options) -> list:
    """parallel.learn_all with a progress bar over the pictures and a line per picture as it ends (its PSNR, or
    why it failed). Returns the Outcomes."""
    bar = W.IntProgress(min=0, max=1, description="pictures")
    lines = W.VBox([])
    display(W.VBox([bar, lines]))

    def show(o, done, total):
        bar.max, bar.value = total, done
        text = f"{o.name}: {o.error}" if o.failed else f"{o.name}: {o.result.psnr:.2f} dB -> {o.path}"
        lines.children = (*lines.children, W.HTML(html.escape(text)))

    return parallel.learn_all(items, job, on_picture=show, **options)
