"""Transitions: interpolate every weight from net A to net B, schedules, sequences, and frame/GIF/MP4 writing."""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .encoding import describe, same_encoding
from .errors import MorphError
from .images import atomic_path, check_size, resize, save_image
from .mlp import Net, render
from .weights import load_numbered

SCHEDULES = {
    "linear": lambda s: s,
    "smoothstep": lambda s: s * s * (3 - 2 * s),
    "ease": lambda s: 0.5 - 0.5 * np.cos(np.pi * s),
}


def check_compatible(a: Net, b: Net, names=("A", "B")):
    """Refuse, with what to do, to morph nets of different shape, encoding or activation."""
    if not same_encoding(a.encoding, b.encoding) or a.activation != b.activation:
        raise MorphError(f"net {names[0]} is {describe(a.encoding)}/{a.activation} but net {names[1]} is "
                         f"{describe(b.encoding)}/{b.activation}: nets of different encodings cannot morph; "
                         "retrain one of them with the other's settings")
    if a.params.keys() != b.params.keys() or any(a.params[k].shape != b.params[k].shape for k in a.params):
        raise MorphError(f"nets {names[0]} (H={a.hidden}) and {names[1]} (H={b.hidden}) differ in shape: "
                         "train every picture of a transition with the same --hidden")


def interpolate(a: Net, b: Net, t: float) -> Net:
    """The net t of the way from A to B; t outside [0, 1] carries on past them (extrapolation)."""
    check_compatible(a, b)
    t = np.float32(t)
    return Net({k: (1 - t) * a.params[k] + t * b.params[k] for k in a.params}, a.encoding, a.activation)  # exact ends


@dataclass(frozen=True)
class Link:
    src: str
    dst: str
    steps: int


_LINK = re.compile(r"\s*(\w+)\s*>\s*(\w+)\s*:\s*(-?\d+)\s*")


def parse_sequence(text: str) -> list:
    """'1>2:40, 2>3:40' -> Links (from, to, steps). Errors point at the spot."""
    links, pos = [], 0
    if not text.strip():
        raise MorphError("the sequence is empty: write links like 1>2:40, 2>3:40 (from>to:steps)")
    for part in text.split(","):
        m = _LINK.fullmatch(part)
        if not m:
            raise MorphError(_point(text, pos + len(part) - len(part.lstrip()),
                                    "expected from>to:steps here, like 1>2:40"))
        steps = int(m.group(3))
        if steps < 2:
            raise MorphError(_point(text, pos + m.start(3), f"a link needs at least 2 steps, not {steps}"))
        links.append(Link(m.group(1), m.group(2), steps))
        pos += len(part) + 1
    return links


def _point(text, pos, msg):
    return f"bad sequence: {msg}\n  {text}\n  {' ' * pos}^"


def frame_plan(links, schedule="linear", loop=False, pingpong=False, beyond=0.0) -> list:
    """(from, to, t) for every frame. A seam shared by two links is one frame; `loop` closes the chain back
    to its start without repeating the first frame; `beyond` carries the last link past its end (t > 1)."""
    if schedule not in SCHEDULES:
        raise MorphError(f"unknown schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")
    if loop and links[-1].dst != links[0].src:
        links = [*links, Link(links[-1].dst, links[0].src, links[-1].steps)]
    ease, plan = SCHEDULES[schedule], []
    for i, link in enumerate(links):
        seam = i > 0 and links[i - 1].dst == link.src
        plan += [(link.src, link.dst, float(ease(k / (link.steps - 1)))) for k in range(int(seam), link.steps)]
    last = links[-1]
    extra = round(float(beyond) * (last.steps - 1))
    plan += [(last.src, last.dst, 1 + k / (last.steps - 1)) for k in range(1, extra + 1)]
    if loop and not extra:
        plan.pop()  # equals the first frame
    if pingpong:
        plan += plan[-2:0:-1]
    return plan


def load_nets(names, hidden, root=".") -> dict:
    """{name: Net} from W-<hidden>/, checked to be morphable with each other."""
    nets = {n: load_numbered(n, hidden, root) for n in dict.fromkeys(names)}
    first = next(iter(nets))
    for n, net in nets.items():
        check_compatible(nets[first], net, (first, n))
    return nets


def parse_size(size):
    """512 or '512' -> (512, 512); '640x360' -> (640, 360)."""
    if isinstance(size, str):
        parts = size.lower().split("x")
        try:
            size = tuple(int(p) for p in parts) if len(parts) == 2 else int(parts[0])
        except ValueError:
            raise MorphError(f"size {size!r} is not a size: write 512 or 640x360") from None
    return check_size(size)


def frames(plan, nets, size, align=False):
    """Rendered frames (float32 H x W x 3) for a plan; align=True matches each link's B to its A first."""
    from .align import align as match

    w, h = parse_size(size)
    pairs = {}
    for src, dst, t in plan:
        if (src, dst) not in pairs:
            pairs[src, dst] = nets[src], match(nets[src], nets[dst]) if align else nets[dst]
        yield render(interpolate(*pairs[src, dst], t), h, w)


def write_transition(sequence, hidden=100, size=512, out="result", name="transition", schedule="linear",
                     fps=24, gif=True, mp4=False, loop=False, pingpong=False, beyond=0.0, align=False,
                     root=".", on_frame=None) -> dict:
    """Render a sequence into <out>/<name>/0001.png ..., then <out>/<name>.gif and .mp4. Returns the paths."""
    links = parse_sequence(sequence) if isinstance(sequence, str) else sequence
    plan = frame_plan(links, schedule, loop, pingpong, beyond)
    nets = load_nets([n for link in links for n in (link.src, link.dst)], hidden, root)
    parse_size(size)  # bad sizes fail before anything is removed
    if fps <= 0:
        raise MorphError(f"fps {fps} must be positive")
    folder = Path(out) / name
    result = {"removed_old": _clear_frames(folder), "frames": []}
    digits = max(4, len(str(len(plan))))
    for i, rgb in enumerate(frames(plan, nets, size, align), 1):
        result["frames"].append(save_image(folder / f"{i:0{digits}d}.png", rgb))
        if on_frame:
            on_frame(i, len(plan))
    if gif:
        result["gif"] = write_gif(Path(out) / f"{name}.gif", result["frames"], fps)
    if mp4:
        result["mp4"] = write_mp4(Path(out) / f"{name}.mp4", result["frames"], fps)
    return result


def _clear_frames(folder: Path) -> int:
    """Remove the numbered frames an earlier run left in `folder`, so runs never mix; returns how many."""
    old = [p for p in folder.glob("*.png") if p.stem.isdigit()] if folder.is_dir() else []
    for p in old:
        p.unlink()
    return len(old)


def write_gif(path, frame_files, fps) -> Path:
    """A looping GIF from frame files, streamed and written atomically."""
    path = Path(path)
    def palette(f):  # a palette of its own per frame; FASTOCTREE is ~20x quicker than Pillow's default
        with Image.open(f) as im:
            return im.convert("RGB").quantize(256, Image.Quantize.FASTOCTREE)

    first, *rest = frame_files
    with atomic_path(path) as tmp:
        palette(first).save(tmp, format="GIF", save_all=True, append_images=(palette(f) for f in rest),
                            duration=round(1000 / fps), loop=0)
    return path


def write_mp4(path, frame_files, fps) -> Path:
    """An H.264 MP4 from frame files through imageio's bundled ffmpeg (offline); odd sizes are padded."""
    import imageio_ffmpeg

    path = Path(path)
    with Image.open(frame_files[0]) as im:
        w, h = im.size
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(tmp, (w + w % 2, h + h % 2), fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=1, quality=8,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for f in frame_files:
            with Image.open(f) as im:
                rgb = np.asarray(im.convert("RGB"))
            writer.send(np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")))
        writer.close()
    return path


def smoothness(frame_list) -> tuple:
    """(max, mean) over steps of the RMS change between consecutive frames, divided by the RMS difference of
    the end frames. An ideal cross-fade of n frames scores 1 / (n - 1) for both; jumps and flicker score higher."""
    f = np.asarray(frame_list, np.float64)
    rms = lambda d: np.sqrt(np.mean(d * d, axis=tuple(range(1, d.ndim))))  # noqa: E731
    steps = rms(np.diff(f, axis=0))
    ends = rms(f[-1:] - f[:1])[0]
    if ends == 0:
        raise MorphError("the end frames are the same picture: smoothness needs two different ends")
    return float(steps.max() / ends), float(steps.mean() / ends)


def strip(frame_list, count=8, height=96) -> np.ndarray:
    """`count` evenly spaced frames side by side, each `height` tall: a picture of a whole transition."""
    picks = np.linspace(0, len(frame_list) - 1, count).round().astype(int)
    tiles = []
    for i in picks:
        f = frame_list[i]
        if not isinstance(f, np.ndarray):
            with Image.open(f) as im:
                f = np.asarray(im.convert("RGB"), np.float32) / 255
        tiles.append(resize(f, (round(height * f.shape[1] / f.shape[0]), height)))
    return np.hstack(tiles)
