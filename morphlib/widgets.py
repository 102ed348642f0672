"""ipywidgets front ends: watch and stop training, scrub epochs and transitions, tune hybrids. No math here."""
import threading
import time

import ipywidgets as W
from IPython.display import display

from .errors import MorphError
from .images import png_bytes
from .learn import learn
from .mlp import render


def _image(rgb=None, width=256):
    return W.Image(value=png_bytes(rgb) if rgb is not None else b"", format="png", width=width)


class TrainingMonitor:
    """Trains a Job on a worker thread: live output beside the target, PSNR, progress, Stop, snapshot slider."""

    def __init__(self, job, snapshot_every=10, refresh_s=0.5, width=256):
        self.job, self.every, self.refresh_s = job, max(1, int(snapshot_every)), refresh_s
        self.target = job.target()
        self.stop_event, self.thread, self.result, self.path, self.error = threading.Event(), None, None, None, None
        self.snapshots = []  # (epoch, psnr, png bytes)
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
        """Start training in the background; wait=True blocks until it ends (Ctrl-C stops it and keeps the best)."""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if wait:
            self.wait()
        return self

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
            self.result, self.path = learn(self.job, stop=self.stop_event, on_epoch=self._on_epoch)
        except MorphError as e:
            self.error = e
            self.status.value = f"<b>error:</b> {e}"
            return
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
