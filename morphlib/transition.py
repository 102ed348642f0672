"""Transitions: interpolate every weight from net A to net B, sequences, frame plans, and rendering them."""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .align import align as match_units
from .backend import namespace
from .encoding import check_size
from .errors import MorphError
from .images import save_image
from .mlp import Net, check_compatible, render
from .movie import write_gif, write_mp4
from .weights import load_numbered

DEMO_SEQUENCE = "1>2:24, 2>3:24, 3>4:24"
SCHEDULES = {
    "linear": lambda s: s,
    "smoothstep": lambda s: s * s * (3 - 2 * s),
    "ease": lambda s: 0.5 - 0.5 * np.cos(np.pi * s),
}


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


def frame_plan(links, schedule="linear", *, loop=False, pingpong=False, beyond=0.0) -> list:
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


def pair(a: Net, b: Net, align=False) -> tuple:
    """(A, B) for a link; align=True reorders B's hidden units to match A's (the same picture, a smoother morph)."""
    return a, match_units(a, b) if align else b


def frames(plan, nets, size, *, align=False, device="cpu", uint8=False):
    """Rendered frames (float32 H x W x 3, or uint8 ones) for a plan, made on `device`; align=True matches each
    link's B to its A first."""
    w, h = parse_size(size)
    pairs, xp = {}, namespace(device)
    for src, dst, t in plan:
        if (src, dst) not in pairs:
            pairs[src, dst] = pair(nets[src], nets[dst], align)
        yield render(interpolate(*pairs[src, dst], t), h, w, device=xp, uint8=uint8)


def write_transition(sequence, *, hidden=100, size=512, out="result", name="transition", schedule="linear",
                     fps=24, gif=False, mp4=False, loop=False, pingpong=False, beyond=0.0, align=False,
                     device="auto", root=".", on_frame=None) -> dict:
    """Render a sequence into <out>/<name>/0001.png ..., then <out>/<name>.gif and .mp4. Returns the paths.
    Frames are rendered on `device` (cpu, gpu, or auto: the GPU when CuPy finds one) and copied back as bytes."""
    links = parse_sequence(sequence) if isinstance(sequence, str) else sequence
    plan = frame_plan(links, schedule, loop=loop, pingpong=pingpong, beyond=beyond)
    nets = load_nets([n for link in links for n in (link.src, link.dst)], hidden, root)
    parse_size(size)  # bad sizes (and a missing GPU) fail before anything is removed
    xp = namespace(device)
    if fps <= 0:
        raise MorphError(f"fps {fps} must be positive")
    folder = Path(out) / name
    result = {"removed_old": _clear_frames(folder), "frames": []}
    digits = max(4, len(str(len(plan))))
    for i, rgb in enumerate(frames(plan, nets, size, align=align, device=xp, uint8=True), 1):
        result["frames"].append(save_image(folder / f"{i:0{digits}d}.png", rgb))
        if on_frame:
            on_frame(i, len(plan))
    if gif:
        result["gif"] = write_gif(Path(out) / f"{name}.gif", result["frames"], fps)
    if mp4:
        result["mp4"] = write_mp4(Path(out) / f"{name}.mp4", result["frames"], fps)
    return result


def demo(*, size=256, fps=20, mp4=False, out="result", root=".") -> dict:
    """The quick start: a looping GIF through the sample pictures with the nets shipped in W-100/."""
    return write_transition(DEMO_SEQUENCE, hidden=100, size=size, out=out, name="demo", schedule="ease", fps=fps,
                            gif=True, mp4=mp4, loop=True, align=True, root=root)


def _clear_frames(folder: Path) -> int:
    """Remove the numbered frames an earlier run left in `folder`, so runs never mix; returns how many."""
    old = [p for p in folder.glob("*.png") if p.stem.isdigit()] if folder.is_dir() else []
    for p in old:
        p.unlink()
    return len(old)
