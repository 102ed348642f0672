import io
import os
import signal
import time

import numpy as np
import pytest
from jupyter_client.manager import start_new_kernel
from PIL import Image

from conftest import REPO, nets_dir
from morphlib.learn import Job
from morphlib.render import render
from morphlib.transition import write_transition
from morphlib.warp import points_file, read_points
from morphlib.weights import load_net, save_net, weights_file
from morphlib.widgets import HybridTuner, PointEditor, TrainingMonitor, TransitionScrubber, movie_view


def _wait_for_a_snapshot(monitor, timeout=120):
    """Until the monitor's first snapshot (training is under way); fails instead of hanging."""
    if not monitor.first_snapshot.wait(timeout):
        pytest.fail(f"no snapshot in {timeout} s: training did not start")


def test_training_monitor_runs_snapshots_and_slider(workspace):
    m = TrainingMonitor(Job(picture=1, hidden=8, epochs=6, root=workspace), snapshot_every=2)
    m.start(wait=True)
    assert m.path.is_file() and m.result.epochs >= 1
    epochs = [s[0] for s in m.snapshots]
    assert set(epochs) >= {1, 2, 4, 6, m.result.epochs} and epochs == sorted(set(epochs))
    labels = [label for label, _ in m.slider.options]
    assert labels[epochs.index(m.result.epochs)] == f"{m.result.epochs} (best)"  # the slider speaks in epochs
    assert m.slider.label == f"{m.result.epochs} (best)"  # and ends on the saved net
    saved = m.status.value
    assert "saved" in saved and "<polyline" in m.curve.value and f"best {m.result.psnr:.2f} dB" in m.curve.value
    assert f"best PSNR {m.result.psnr:.2f} dB" in saved  # one measure: the curve's best is the message's
    m.slider.value = 0
    assert m.output.value == m.snapshots[0][2] and "epoch 1:" in m.view.value
    assert ">epoch 1</text>" in m.curve.value  # the curve marks the epoch shown
    assert m.status.value == saved  # scrubbing leaves the save message alone


def test_the_live_view_waits_while_the_slider_looks_back(workspace):
    m = TrainingMonitor(Job(picture=1, hidden=8, epochs=100000, root=workspace), snapshot_every=1, refresh_s=0)
    m.start()
    while len(m.snapshots) < 3:
        _wait_for_a_snapshot(m)
    m.slider.value = 0  # back to epoch 1 while it trains
    looked_at = m.snapshots[0][2]
    seen = m.live[0]
    while m.live[0] < seen + 2:
        time.sleep(0.01)
    assert m.output.value == looked_at and "live view waits at epoch" in m.view.value
    listed = len(m.slider.options)
    assert listed < len(m.snapshots)  # the slider's end stays where the user sees it while they look back
    m.slider.value = listed - 1  # back at the end: it follows training again, over every snapshot
    assert "following training" in m.view.value and m.output.value == m.live[2]
    assert len(m.slider.options) >= len(m.snapshots) - 1 > listed - 1
    m.stop()
    m.wait()


def test_net_history_lists_measured_nets_and_restores_one(workspace):
    job = Job(picture=1, hidden=8, epochs=2, root=workspace)
    TrainingMonitor(job).start(wait=True)
    better = TrainingMonitor(Job(picture=1, hidden=8, epochs=6, root=workspace))
    better.start(wait=True)
    worse = TrainingMonitor(job)  # 2 epochs again: worse than the 6 epochs' net, kept apart
    worse.start(wait=True)
    assert "holds a net of" in worse.notice.value and "REPLACE = True" in worse.notice.value
    assert "Restore" in worse.status.value and "REPLACE = True" in worse.status.value
    assert "python -m morphlib" not in worse.status.value
    history = worse.nets
    assert len(history.list.options) == 2 and f"{worse.result.psnr:.2f} dB" in history.list.options[0][0]
    on_disk = job.out_path().read_bytes()
    history.list.value = 0
    history.button.click()
    assert "restored entry 0" in history.message.value and job.out_path().read_bytes() != on_disk
    assert f"{worse.result.psnr:.2f} dB" in history.current.value


def test_a_new_run_of_the_same_picture_stops_the_old_one_visibly(workspace):
    old = TrainingMonitor(Job(picture=1, hidden=8, epochs=100000, root=workspace), snapshot_every=1)
    old.start()
    _wait_for_a_snapshot(old)
    new = TrainingMonitor(Job(picture=1, hidden=8, epochs=3, root=workspace), snapshot_every=1)
    new.start(wait=True)
    assert not old.thread.is_alive() and old.result.stopped == "stopped" and old.path.is_file()
    assert "newer run" in old.status.value and new.error is None and new.result.epochs >= 1
    assert "earlier run of picture 1" in new.notice.value and "newer run" in new.notice.value


def test_stop_button_stops_training(workspace):
    m = TrainingMonitor(Job(picture=1, hidden=8, epochs=100000, root=workspace), snapshot_every=1)
    m.start()
    _wait_for_a_snapshot(m)
    m.stop_button.click()
    m.wait()
    assert m.result.stopped == "stopped" and m.path.is_file() and m.result.epochs < 100000


def test_monitor_reports_errors(workspace):
    m = TrainingMonitor(Job(picture=1, hidden=8, epochs=2, resume=True, root=workspace))
    m.start(wait=True)
    assert m.error is not None and "error" in m.status.value


def test_transition_scrubber_updates_on_drag(tmp_path):

    nets_dir(tmp_path, 6)
    s = TransitionScrubber(6, size=16, root=tmp_path)
    before = s.image.value
    s.t.value = 1.3
    assert s.image.value != before and "t = 1.30" in s.status.value
    s.align.value = True
    assert s.image.value != before and len(s._pairs) == 2
    a, b = s.pair()
    np.testing.assert_allclose(render(b, 8), render(s._net("2"), 8), atol=1e-5)  # aligned B: same picture


def test_hybrid_tuner_live_preview_and_save(tmp_path):

    rng = np.random.default_rng(0)
    near, far = rng.random((40, 30, 3)).astype(np.float32), rng.random((20, 20, 3)).astype(np.float32)
    t = HybridTuner(near, far, steps=5, preview=20, out=tmp_path / "h.png")
    full = t.blenders[20][0]
    assert "centre-cropped" in t.message and full.steps == 5
    before = t.preview.value
    t.m_blurred.value = 5.0
    assert "updating the preview" in t.status.value and "morphlib-busy" in t.preview._dom_classes  # at once
    assert t.wait() and t.preview.value != before and full.steps == 10 and "after 5 more steps" in t.status.value
    assert "morphlib-busy" not in t.preview._dom_classes
    t.sigma.value = 6.0
    assert t.wait() and full.steps == 15
    report, path = t.save(steps=3)
    assert path.is_file() and report.image.shape == near.shape and "saved" in t.saved.value
    per_pixel = report.loss / (near.shape[0] * near.shape[1])
    assert f"loss per pixel {per_pixel:.4f}" in t.saved.value  # the preview's measure, at full size


def test_hybrid_tuner_shows_the_weight_it_uses_and_saves_once_in_the_background(tmp_path):

    rng = np.random.default_rng(0)
    near, far = rng.random((24, 24, 3)).astype(np.float32), rng.random((24, 24, 3)).astype(np.float32)
    t = HybridTuner(near, far, m_precise=0.3, steps=5, preview=12, out=tmp_path / "h.png")
    assert t.m_precise.value == 0.3 and float(t.blenders[12][0].s["m"].numpy()[0]) == pytest.approx(0.3)
    first = t.save_in_background(steps=20)
    assert t.save_button.disabled and t.save_in_background() is None  # a second click queues nothing
    first.join(120)
    assert not first.is_alive() and not t.save_button.disabled and 0 < t.save_bar.value <= 1000
    assert "saved" in t.saved.value and "m_precise 0.3," in t.saved.value and (tmp_path / "h.png").is_file()


def test_interrupt_stops_background_training_and_keeps_the_best(workspace):
    m = TrainingMonitor(Job(picture=1, hidden=8, epochs=100000, root=workspace), snapshot_every=1)
    m.start()
    _wait_for_a_snapshot(m)
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C or a kernel interrupt sends
    m.wait()
    assert m.result.stopped == "stopped" and m.path.is_file()
    with pytest.raises(KeyboardInterrupt):  # nothing trains now: interrupts pass on
        os.kill(os.getpid(), signal.SIGINT)


def test_kernel_interrupt_stops_background_training(workspace):
    """In Jupyter an interrupt arrives while the kernel is idle and training runs on its worker thread."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(workspace), env=env)
    out = []

    def run(code):
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text")))
        assert reply["content"]["status"] == "ok", reply["content"]

    try:
        run("from morphlib import Job\nfrom morphlib.widgets import TrainingMonitor\n"
            "m = TrainingMonitor(Job(picture=1, hidden=8, epochs=10**6))\nm.start()")
        run("import time\nwhile len(m.snapshots) < 2: time.sleep(0.05)")
        km.interrupt_kernel()
        time.sleep(1)
        run("m.wait()\nprint(m.result.stopped, m.path.is_file())")
        km.interrupt_kernel()  # nothing trains now: the idle kernel shrugs it off
        time.sleep(0.5)
        run("print('alive')")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert "stopped True\n" in out and "alive\n" in out


def test_scrubber_error_hides_the_old_picture_and_the_slider_is_wide(tmp_path):

    nets_dir(tmp_path, 6, ("plain", "plain", "fourier"))
    s = TransitionScrubber(6, size=16, root=tmp_path)
    assert int(s.t.layout.width.removesuffix("px")) >= 600  # -0.5 .. 1.5 in steps one can aim at
    s.b.value = "3"  # a net of another encoding: cannot morph
    assert "error" in s.status.value and s.image.layout.display == "none"
    s.b.value = "2"
    assert "error" not in s.status.value and s.image.layout.display is None


def test_movie_view_lists_the_files_and_plays_the_gif_from_its_file(tmp_path, monkeypatch):
    nets_dir(tmp_path, 6)
    out = write_transition("1>2:3", hidden=6, size="40x24", movies=("gif",), root=tmp_path, out=tmp_path / "result",
                           warp="none")
    assert "outside the notebook's folder" in movie_view(out).data
    monkeypatch.chdir(tmp_path)
    page = movie_view(out, width=80).data
    assert page.startswith(f"3 frames<br>GIF: {out['gif']}<br>")
    assert "<img src='result/transition.gif' width='80'" in page


def test_hybrid_tuner_drops_stale_previews_and_shows_the_newest_settings(tmp_path):
    rng = np.random.default_rng(1)
    near, far = rng.random((24, 24, 3)).astype(np.float32), rng.random((24, 24, 3)).astype(np.float32)
    t = HybridTuner(near, far, steps=300, preview=24)
    for value in (0.2, 0.25, 0.4):  # moves faster than a preview of 300 steps
        t.m_precise.value = value
    assert t.wait() and "m_precise 0.400" in t.status.value and t.status.value.startswith("preview:")


def test_scrubber_previews_the_frame_shape_and_fit(tmp_path):
    nets_dir(tmp_path)
    for n in (1, 2):  # nets of pictures 10 wide and 20 high
        path = weights_file(n, 6, tmp_path)
        save_net(load_net(path)[0], path, image_size=[20, 10])
    s = TransitionScrubber(6, size=32, frame="64x36", fit="pad", root=tmp_path, warp="none")
    shown = np.asarray(Image.open(io.BytesIO(s.image.value)))
    assert shown.shape[:2] == (18, 32) and "a 64x36 frame (pad), previewed at 32x18" in s.status.value
    assert shown[:, :10].max() == 0 and shown[:, 22:].max() == 0  # pad: black bars beside the tall pictures


def test_point_editor_pairs_clicks_moves_and_deletes_them_and_saves_each_change(tmp_path):
    nets_dir(tmp_path, 6)
    e = PointEditor(6, 1, 2, size=20, root=tmp_path)
    path = points_file("1", "2", tmp_path / "W-6")
    e.click(1, 0.5, 0.5)  # B first: refused, nothing saved
    assert "on A first" in e.status.value and not path.exists()
    e.click(0, 0.2, 0.3)
    assert "partner on B" in e.status.value and not path.exists()
    e.click(1, 0.4, 0.5)
    e.click(0, 0.6, 0.6)
    e.click(1, 0.7, 0.9)
    np.testing.assert_allclose(read_points(path), [[0.2, 0.3, 0.4, 0.5], [0.6, 0.6, 0.7, 0.9]], atol=1e-6)
    assert [label for label, _ in e.chosen.options] == ["new pair", "1", "2"]
    e.chosen.value = 0
    e.click(1, 0.1, 0.1)  # moves pair 1's point on B
    np.testing.assert_allclose(read_points(path)[0], [0.2, 0.3, 0.1, 0.1], atol=1e-6)
    e.delete(0)
    np.testing.assert_allclose(read_points(path), [[0.6, 0.6, 0.7, 0.9]], atol=1e-6)
    assert [label for label, _ in e.chosen.options] == ["new pair", "1"]
    again = PointEditor(6, 2, 1, size=20, root=tmp_path)  # the other way round: the same pairs, swapped
    np.testing.assert_allclose(again.pairs, [[0.7, 0.9, 0.6, 0.6]], atol=1e-6)
    e.delete(0)
    assert not path.exists()


def test_a_click_is_read_where_it_fell_on_the_picture_as_shown(tmp_path):
    nets_dir(tmp_path, 6)
    e = PointEditor(6, 1, 2, size=20, root=tmp_path)
    e.clicked(0, {"relativeX": 50, "relativeY": 25, "boundingRectWidth": 200, "boundingRectHeight": 100,
                  "dataX": 5, "dataY": 5})  # shown twice as wide as it is tall
    e.clicked(1, {"dataX": 0, "dataY": 19})  # no size known: the centre of the pixel it names
    np.testing.assert_allclose(e.pairs, [[0.25, 0.25, 0.5 / 20, 19.5 / 20]])


def test_the_scrubber_shows_the_warped_morph_and_says_where_its_points_came_from(tmp_path):
    nets_dir(tmp_path, 6)
    s = TransitionScrubber(6, size=16, root=tmp_path, warp="none")
    still = s.image.value
    assert s.note.value == ""
    path = points_file("1", "2", tmp_path / "W-6")
    path.parent.mkdir(parents=True)
    path.write_text("[[0.2, 0.2, 0.6, 0.5], [0.8, 0.3, 0.5, 0.9], [0.4, 0.8, 0.2, 0.3]]")
    s.warp.value = "auto"  # saved points come first
    assert "3 points saved" in s.note.value and s.image.value != still
