"""Scale: (1) learning 8 pictures of 256x256 one after the other in this process (the loop of single `learn`s),
then on 1, 2 (and 4, 8 where the machine has the cores) Dask workers: wall time and speed-up; (2) a 60-frame
1280x720 transition to MP4 with the shipped nets: today's path (frames rendered one by one, written as PNGs, read
back into the MP4) against streaming, in this process and on 2 Dask workers. Times include starting the cluster.
(3) x264's presets and VP9 on 48 frames of 1920x1080: CPU time, size and PSNR to the frames (why
movie.MP4_PRESET, and the WebM's settings).
Everything is written under result/bench/scale/.  Usage: python -m bench.scale [--epochs 30] [--frames 60]
"""
import argparse
import os
import resource
import shutil
import time
from pathlib import Path

import numpy as np

from morphlib import parallel
from morphlib.images import load_image, resize, save_image
from morphlib.learn import Job
from morphlib.movie import MP4_PRESET, write_movie
from morphlib.net import interpolate
from morphlib.render import render, render_morph
from morphlib.transition import frame_plan, load_nets, pair, parse_sequence, write_transition

HERE = Path("result/bench/scale")
SIDE, PICTURES = 256, 8


def pictures(folder: Path) -> Path:
    """8 pictures of SIDE x SIDE: the samples in img/, upright and turned a quarter."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, PICTURES + 1):
        rgb = resize(load_image(f"img/{(n - 1) % 4 + 1}.png"), (SIDE, SIDE))
        save_image(folder / f"{n}.png", np.rot90(rgb, (n - 1) // 4))
    return folder.resolve()


def learning(img: Path, epochs: int):
    """Seconds to learn the pictures, per way of running them; each run in a fresh W-100/."""
    cores = os.cpu_count() or 1
    ways = {"sequential loop (jobs 1)": 1, **{f"Dask, {k} worker{'s' * (k > 1)}": k for k in (1, 2, 4, 8)
                                               if k <= cores}}
    times = {}
    for label, jobs in ways.items():
        root = HERE / f"learn-{jobs}-{len(times)}"
        shutil.rmtree(root, ignore_errors=True)
        job = Job(root=str(root), img_dir=str(img), epochs=epochs, device="cpu")
        start = time.perf_counter()
        with parallel.client(jobs if label.startswith("Dask") else 1) as client:  # its start counted too
            outcomes = parallel.learn_all([str(img)] if client else list(range(1, PICTURES + 1)), job, client=client)
        times[label] = time.perf_counter() - start
        assert not any(o.failed for o in outcomes), [o.error for o in outcomes if o.failed]
    print(f"(1) learning {PICTURES} pictures of {SIDE}x{SIDE}, {epochs} epochs each ({cores} cores)")
    _table(times)
    if "Dask, 2 workers" in times:
        print(f"  2 workers against 1 worker: {times['Dask, 1 worker'] / times['Dask, 2 workers']:.2f}x")


def movie(frames: int):
    """Seconds for a `frames`-frame 1280x720 transition to MP4: today's path against streaming."""
    sequence, size = f"1>2:{frames}", (1280, 720)
    times = {"today: one by one, PNGs, then MP4": _today(sequence, size)}
    for jobs in (1, 2):
        start = time.perf_counter()
        with parallel.client(jobs) as client:
            out = write_transition(sequence, client=client, size="1280x720", movies=("mp4",), out=HERE,
                                   name=f"stream{jobs}")
        times[f"streaming, {'this process' if jobs == 1 else f'{jobs} Dask workers'}"] = time.perf_counter() - start
        assert out["count"] == frames
    print(f"(2) a {frames}-frame 1280x720 transition to MP4")
    _table(times, per=frames)


def _today(sequence, size) -> float:
    """The path before streaming: each frame rendered alone (render(interpolate(...))), saved as a PNG, then the
    PNGs read back into the MP4."""
    start = time.perf_counter()
    plan = frame_plan(parse_sequence(sequence))
    nets = load_nets(["1", "2"], 100)
    a, b = pair(nets["1"], nets["2"])
    folder = HERE / "today"
    pngs = [save_image(folder / f"{i:04d}.png", render(interpolate(a, b, t), size[1], size[0], uint8=True))
            for i, (_, _, t) in enumerate(plan, 1)]
    write_movie(pngs, {"mp4": HERE / "today.mp4"}, fps=24)
    return time.perf_counter() - start


def presets(names=("medium", "faster", "veryfast")):
    """CPU seconds (ffmpeg's), MB and PSNR to the frames of 48 frames of the shipped nets 1 > 2 at 1920x1080 in an
    MP4, per x264 preset, and in a WebM (VP9)."""
    import imageio_ffmpeg

    a, b = pair(*load_nets(["1", "2"], 100).values())
    frames = render_morph(a, b, [i / 47 for i in range(48)], 1080, 1920, uint8=True)
    print(f"(3) x264 presets, 48 frames of 1920x1080 to MP4 (morphlib uses {MP4_PRESET!r}), and VP9 to WebM")
    ways = {name: ({"mp4": HERE / f"preset-{name}.mp4"}, {"mp4_preset": name}) for name in names}
    for label, (paths, options) in {**ways, "webm (VP9)": ({"webm": HERE / "vp9.webm"}, {})}.items():
        before = _ffmpeg_seconds()
        write_movie(frames, paths, fps=24, **options)
        path = next(iter(paths.values()))
        cpu, decoded = _ffmpeg_seconds() - before, imageio_ffmpeg.read_frames(str(path))
        next(decoded)
        mse = np.mean([np.mean((np.frombuffer(got, np.uint8).reshape(frame.shape) - frame.astype(np.float32)) ** 2)
                       for got, frame in zip(decoded, frames)])
        print(f"  {label:12s}{cpu:8.1f} s CPU{path.stat().st_size / 1e6:8.2f} MB{10 * np.log10(255**2 / mse):8.2f} dB")


def _ffmpeg_seconds() -> float:
    """CPU seconds of this process's children so far (ffmpeg's)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _table(times: dict, per=None):
    """Wall time, speed-up over the first row (and seconds per frame, given the frames)."""
    first = next(iter(times.values()))
    for label, seconds in times.items():
        rate = f"{seconds / per:8.3f} s/frame" if per else ""
        print(f"  {label:40s}{seconds:8.1f} s{first / seconds:8.2f}x{rate}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30, help="per picture (a real picture wants 100s)")
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine slows every row alike only roughly)")
    learning(pictures(HERE / "img"), args.epochs)
    movie(args.frames)
    presets()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
