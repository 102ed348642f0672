"""Transitions: interpolate every weight from net A to net B, sequences, frame plans, and rendering them."""
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import checks, parallel
from .align import align as match_units
from .backend import namespace
from .encoding import ENCODINGS, FIT, view
from .errors import MorphError
from .files import atomic_path, lock
from .movie import FORMATS, FPS, Movie, check_formats, check_fps, check_frame_size, check_options, switches
from .net import Net, check_compatible, interpolate
from .render import BLEND, BLENDS, render_morph, render_warped
from .sequence import Link, parse_sequence
from .warp import POINTS_DIR, WARP, check_points, link_warp, read_points
from .weights import load_numbered, picture_shape, read_meta, weights_dir, weights_file

DEMO_SEQUENCE = "1>2:24, 2>3:24, 3>4:24"
SCHEDULES = {
    "linear": lambda s: s,
    "smoothstep": lambda s: s * s * (3 - 2 * s),
    "ease": lambda s: 0.5 - 0.5 * np.cos(np.pi * s),
}


def frame_plan(links, schedule="linear", *, loop=False, pingpong=False, beyond=0.0) -> list:
    """(from, to, t) for every frame. A seam shared by two links is one frame; `loop` closes the chain back
    to its start without repeating the first frame; `beyond` carries the last link past its end (t > 1)."""
    checks.choice("schedule", schedule, SCHEDULES)
    loop, pingpong, links = checks.flag("loop", loop), checks.flag("pingpong", pingpong), parse_sequence(links)
    if not links:
        raise MorphError("the sequence is empty: give links like 1>2:40, 2>3:40 (from>to:steps)")
    if loop and links[-1].dst != links[0].src:
        links = [*links, Link(links[-1].dst, links[0].src, links[-1].steps)]
    last = links[-1]
    extra = round(checks.real("beyond", beyond, 0) * (last.steps - 1))
    _check_frame_count(links, extra, pingpong)
    ease, plan = SCHEDULES[schedule], []
    for i, link in enumerate(links):
        seam = i > 0 and links[i - 1].dst == link.src
        plan += [(link.src, link.dst, float(ease(k / (link.steps - 1)))) for k in range(int(seam), link.steps)]
    plan += [(last.src, last.dst, 1 + k / (last.steps - 1)) for k in range(1, extra + 1)]
    if loop and not extra:
        plan.pop()  # equals the first frame
    if pingpong:
        plan += plan[-2:0:-1]
    return plan


def _check_frame_count(links, extra, pingpong):
    """Refuse, before building it, a plan of more than MAX_FRAMES frames (an upper bound: seams counted twice)."""
    total = (sum(checks.whole("steps", link.steps, 2) for link in links) + extra) * (2 if pingpong else 1)
    if total > checks.MAX_FRAMES:
        raise MorphError(f"the sequence makes about {total:,} frames, more than {checks.MAX_FRAMES:,}: "
                         "give fewer steps per link (or a smaller beyond)")


def load_nets(names, hidden, root=".") -> dict:
    """{name: Net} from W-<hidden>/, checked to be morphable with each other."""
    nets = {n: load_numbered(n, hidden, root) for n in dict.fromkeys(names)}
    first = next(iter(nets))
    for n, net in nets.items():
        check_compatible(nets[first], net, (first, n))
    return nets


def aspects(names, hidden, root=".") -> dict:
    """{name: width / height} of the pictures the nets learned (their weights' image_size; 1 if unknown)."""
    files = {n: weights_file(n, hidden, root) for n in dict.fromkeys(names)}
    sizes = {n: picture_shape(read_meta(path), path) for n, path in files.items()}
    return {n: s[1] / s[0] if s else 1.0 for n, s in sizes.items()}


def parse_size(size):
    """512 or '512' -> (512, 512); '640x360' -> (640, 360); anything else, or too big, is refused."""
    return checks.size("size", size)


def preview_size(size, longest: int) -> tuple:
    """(width, height) of a frame of `size` scaled so that its longer side is `longest` pixels."""
    w, h = parse_size(size)
    k = checks.whole("preview size", longest, 1, checks.MAX_SIDE) / max(w, h)
    return max(1, round(w * k)), max(1, round(h * k))


def pair(a: Net, b: Net, align=False) -> tuple:
    """(A, B) for a link; align=True reorders B's hidden units to match A's (the same picture, a smoother morph)."""
    return a, match_units(a, b) if align else b


GROUP = 64  # frames of a link rendered together (render.render_morph): A's and B's first layer once per group ...
GROUP_BYTES = 400 << 20  # ... unless they would take more memory than this (64 frames of 1920x1080: 398 MB)


@dataclass(frozen=True)
class Plan:
    """What a transition renders: each frame's link and t (frame_plan's), each link's two nets paired once
    (pair), the frame size (width, height), how pictures of another shape sit in it (`fit`: crop, pad or stretch;
    see encoding.view) and their shapes (`aspects` {name: width / height}, 1 if missing, mixed along a link), and
    the links that are `blend`ed from their two nets at warped points (`warps` {(from, to): warp.Warp or
    warp.Still}, see link_warps; a Still moves nothing); the others slide their weights. Plan.of builds one; its
    groups() are plans too, each small enough to send to a worker."""

    frames: tuple  # (from, to, t) per frame, in order
    links: dict  # {(from, to): (A, B)}
    size: tuple
    fit: str = FIT
    aspects: dict = field(default_factory=dict)
    warps: dict = field(default_factory=dict)
    blend: str = BLEND

    @classmethod
    def of(cls, frames, nets, size, *, align=False, fit=FIT, aspects=None, warps=None, blend=BLEND) -> "Plan":
        """The plan of `frames` with `nets` {name: Net} at `size` (as parse_size reads it); align=True matches
        each link's B to its A first. Bad sizes, fits and blends are refused here."""
        size = parse_size(size)
        view(size, fit=fit)
        checks.choice("blend", blend, BLENDS)
        links = {(src, dst): pair(nets[src], nets[dst], align) for src, dst in dict.fromkeys(f[:2] for f in frames)}
        return cls(tuple(frames), links, size, fit, dict(aspects or {}), dict(warps or {}), blend)

    def groups(self, uint8=True):
        """The plan in runs of at most group_size frames of one link, rendered together; each a Plan holding only
        its link."""
        for src, dst, ts in groups(self.frames, group_size(self.size, uint8)):
            link = (src, dst)
            yield replace(self, frames=tuple((src, dst, t) for t in ts), links={link: self.links[link]},
                          warps={k: v for k, v in self.warps.items() if k == link})

    def render(self, *, device="cpu", uint8=False, band=None):
        """The frames (float32 H x W x 3, or uint8 ones), in order, made on `device`; `band` (r0, r1): only
        those rows of each frame. Bytes of the original project's nets are truncated, as it saved its frames."""
        xp = namespace(device)
        for src, dst, ts in groups(self.frames, group_size(self.size, uint8)):
            a, b = self.links[src, dst]
            ra, rb = self.aspects.get(src, 1.0), self.aspects.get(dst, 1.0)
            warp = self.warps.get((src, dst))
            options = dict(device=xp, uint8=uint8, rounding=ENCODINGS[a.encoding["kind"]].rounding, band=band,
                           warp=warp, blend=self.blend)
            if ra == rb:
                yield from _draw(a, b, ts, self.size, view(self.size, ra, fit=self.fit), **options)
                continue
            for t in ts:  # pictures of two shapes: each frame a shape of its own, between them
                shape = view(self.size, ra + min(max(t, 0.0), 1.0) * (rb - ra), fit=self.fit)
                yield from (_draw(interpolate(a, b, t), None, [0.0], self.size, shape, **options) if warp is None
                            else _draw(a, b, [t], self.size, shape, **options))


def group_size(size, uint8=True) -> int:
    """How many frames of `size` (width, height) to render together: GROUP, fewer if they pass GROUP_BYTES."""
    return max(1, min(GROUP, GROUP_BYTES // (size[0] * size[1] * 3 * (1 if uint8 else 4))))


def frame_memory(size, *, movies=(), workers=False) -> int:
    """About how many bytes making frames of `size` takes at its peak: a group of frames and the ones being
    written here, the encoders' frames of `movies` (format names); with Dask workers, the groups in flight here
    and on the workers."""
    frame = size[0] * size[1] * 3
    encoders = sum(FORMATS[kind].memory for kind in movies) * size[0] * size[1]
    return (group_size(size) + 2) * frame * (3 if workers else 1) + encoders


def groups(plan, most):
    """(from, to, [t, ...]) for runs of at most `most` frames of the same link, in the plan's order."""
    run = []
    for src, dst, t in plan:
        if run and ((src, dst) != run[0][:2] or len(run) == most):
            yield run[0][0], run[0][1], [r[2] for r in run]
            run = []
        run.append((src, dst, t))
    if run:
        yield run[0][0], run[0][1], [r[2] for r in run]


def _draw(a, b, ts, size, shape, *, band=None, warp=None, blend=BLEND, **options):
    """Frames ts of the link a -> b at `size` (rows r0 to r1 of them, given a `band`), the picture placed as
    `shape` (encoding.view) says; moved by `warp` if there is one."""
    (left, top, w, h), window = shape
    r0, r1 = band or (0, size[1])
    lo, hi = max(r0, top) - top, min(r1, top + h) - top  # the picture's rows in the band
    if hi > lo:
        inner = render_morph(a, b, ts, h, w, window=window, band=(lo, hi), **options) if warp is None else \
            render_warped(a, b, ts, warp.maps, h, w, blend=blend, window=window, band=(lo, hi), **options)
        if (left, w, lo, hi) == (0, size[0], r0 - top, r1 - top):  # the picture fills the band
            yield from inner
            return
    for i in range(len(ts)):
        out = np.zeros((r1 - r0, size[0], 3), np.uint8 if options.get("uint8") else np.float32)
        if hi > lo:
            out[top + lo - r0:top + hi - r0, left:left + w] = inner[i]
        yield out


def write_transition(sequence, *, hidden=100, size=512, out="result", name="transition", schedule="linear",
                     fps=FPS, movies=(), frames=None, fit=FIT, loop=False, pingpong=False, beyond=0.0, align=False,
                     warp=WARP, blend=BLEND, points=None, device="auto", root=".", client=None, on_frame=None,
                     on_note=None, **movie_options) -> dict:
    """Render a sequence and stream its frames, in order as they are made, into <out>/<name>.gif, .mp4, ... (the
    `movies`, names of movie.FORMATS, with their `movie_options` such as gif_size) and (`frames`; None: only when
    no movie is asked for) <out>/<name>/0001.png .... Returns the paths ("frames": the PNGs; a movie's by its
    format's name), how many frames were made ("count") and of an earlier run, how many frames were removed
    ("removed_old") and which movies not asked for this time ("removed_movies"). Frames are rendered on `device`
    (cpu, gpu, or auto: the GPU when CuPy finds one) and copied back as bytes, here or, given a Dask `client`
    (parallel.client), on its workers; `fit`: see Plan. `warp` (warp.WARPS) moves each link by its
    correspondences, `points` (pairs or a JSON file) those of a one-link sequence, `blend` (render.BLENDS) makes
    its frames; a line per link says where its pairs came from (or why it has none): passed to on_note(line) as it
    is known, and in the result's "notes"."""
    links = parse_sequence(sequence)
    steps = frame_plan(links, schedule, loop=loop, pingpong=pingpong, beyond=beyond)
    hidden, name = checks.whole("hidden size", hidden, 1, checks.MAX_HIDDEN), checks.file_name("name", name)
    fps, out, root = check_fps(fps), checks.path("out", out), checks.path("root", root)
    kinds = check_formats(movies)
    pngs = _pngs(kinds, frames)
    check_options(kinds, movie_options)
    if fps != FPS and not kinds:
        raise MorphError(f"fps {fps:g} has no effect without a movie ({switches()}): ask for one, or leave fps "
                         "alone")
    align, on_frame = checks.flag("align", align), checks.function("on_frame", on_frame)
    client = parallel.checked(client)
    names = [n for link in links for n in (link.src, link.dst)]
    nets, shapes = load_nets(names, hidden, root), aspects(names, hidden, root)
    frame = parse_size(size)
    view(frame, fit=fit)  # bad sizes and fits, a missing GPU, too little memory: refused before anything is removed
    check_frame_size(kinds, *frame)
    xp = namespace(device)
    checks.memory("frames of {}x{}".format(*frame), frame_memory(frame, movies=kinds, workers=client is not None),
                  "give a smaller --size")
    warps, notes = link_warps(steps, nets, shapes, warp=warp, blend=blend, points=points,
                              folder=weights_dir(hidden, root), on_note=checks.function("on_note", on_note))
    plan = Plan.of(steps, nets, size, align=align, fit=fit, aspects=shapes, warps=warps, blend=blend)
    rendered = plan.render(device=xp, uint8=True) if client is None else parallel.frames(client, plan, device=xp)
    paths = {kind: out / f"{name}{FORMATS[kind].suffix}" for kind in kinds}
    folder, digits = out / name, max(4, len(str(len(steps))))
    with checks.disk_errors(), lock(folder, str(folder), "written"):  # one run per --out and --name
        listed = _listed_movies(out, paths.values())
        result = {"removed_old": _clear_frames(folder, [f"{i:0{digits}d}.png" for i in range(1, len(steps) + 1)])
                  if pngs else 0, "removed_movies": _claim_movies(out, name, paths.values(), listed)}
        with Movie(fps, paths, folder=folder if pngs else None, digits=digits, **movie_options) as sink:
            for i, rgb in enumerate(rendered, 1):
                sink.add(rgb)
                if on_frame:
                    on_frame(i, len(steps))
    return {**result, **paths, "frames": sink.pngs, "count": sink.count, "notes": notes}


def _pngs(movies, frames) -> bool:
    """Whether numbered PNGs are written: `frames`, or when it is None, if no movie (format names) is asked for.
    Nothing at all to write is refused."""
    pngs = not movies if frames is None else checks.flag("frames", frames)
    if not (movies or pngs):
        raise MorphError("frames=False (--no-frames) and no movie: nothing would be written; ask for a movie "
                         f"({switches()}), or leave the frames on")
    return pngs


def link_warps(plan, nets, shapes, *, warp=WARP, blend=BLEND, points=None, folder=".", on_note=None) -> tuple:
    """({(from, to): Warp or Still} for the plan's links that are blended, [a line per link]): see
    warp.link_warp. `points` belong to a sequence of one pair of pictures (either way round)."""
    checks.choice("blend", blend, BLENDS)
    links = list(dict.fromkeys((src, dst) for src, dst, _ in plan))
    if points is not None and warp == "none":
        raise MorphError("points are given, but warp is none: drop the points or use warp auto or points")
    if points is not None and len({frozenset(link) for link in links}) > 1:
        raise MorphError("points are given for one link, but the sequence has several: save each link's points "
                         f"as {Path(folder) / POINTS_DIR}/<from>-<to>.json (the notebook's point editor does)")
    warps, notes = {}, []
    for src, dst in links:
        given = points
        if given is not None and (src, dst) != links[0]:
            given = (read_points(given) if isinstance(given, (str, Path)) else check_points(given))[:, [2, 3, 0, 1]]
        warps[src, dst], line = link_warp(src, dst, nets[src], nets[dst], warp=warp, points=given, folder=folder,
                                          aspects=(shapes[src], shapes[dst]))
        if line:
            notes.append(f"warp {line}")
            if on_note:
                on_note(notes[-1])
    return {k: v for k, v in warps.items() if v is not None}, notes


def summary(result) -> list:
    """What write_transition wrote, a line each: the frames (and their folder, if PNGs), then each movie."""
    pngs = f": {result['frames'][0].parent}/" if result.get("frames") else ""
    return [f"{result['count']} frames{pngs}"] + [f"{row.title}: {result[k]}" for k, row in FORMATS.items()
                                                  if k in result]


MOVIES = ".morphlib-movies"  # in an output folder: the movies morphlib wrote there, one name per line


def _listed_movies(out: Path, paths) -> set:
    """The movies listed in <out>/MOVIES; a file at one of `paths` (this run's movies) that is not listed is not
    morphlib's, and is refused before anything changes."""
    manifest = out / MOVIES
    listed = set(manifest.read_text(errors="replace").split()) if manifest.is_file() else set()
    foreign = [str(p) for p in paths if p.name not in listed and p.exists()]
    if foreign:
        raise MorphError(f"{' and '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not a movie morphlib wrote "
                         "(or one an older morphlib wrote, which kept no list of its movies): pick another --name or "
                         "--out, or move it away")
    return listed


def _claim_movies(out: Path, name, paths, listed) -> list:
    """List this run's movies `paths` in <out>/MOVIES, and remove the other movies of `name` listed there (a stale
    one would pass for this run's); returns the removed paths."""
    old = [out / f"{name}{row.suffix}" for row in FORMATS.values()]
    old = [p for p in old if p not in paths and p.name in listed and p.is_file()]
    for p in old:
        p.unlink()
    names = sorted(listed - {p.name for p in old} | {p.name for p in paths})
    if names != sorted(listed):
        with atomic_path(out / MOVIES) as tmp:
            Path(tmp).write_text("".join(f"{n}\n" for n in names))
    return old


def demo(*, size=256, fps=20, movies=("gif",), out="result", root=".") -> dict:
    """The quick start: a looping GIF (or other `movies`) through the sample pictures with the nets shipped in
    W-100/."""
    return write_transition(DEMO_SEQUENCE, hidden=100, size=size, out=out, name="demo", schedule="ease", fps=fps,
                            movies=movies, loop=True, align=True, root=root)


MANIFEST = ".morphlib-frames"  # in a frames folder: the files morphlib wrote there, one per line


def _clear_frames(folder: Path, names) -> int:
    """Remove the frames an earlier run listed in `folder`'s manifest, then list `names` (this run's frames) in
    it; returns how many were removed. Files morphlib did not write are never removed: one in this run's way is
    refused before anything changes."""
    manifest = folder / MANIFEST
    ours = set(manifest.read_text(errors="replace").split()) if manifest.is_file() else set()
    ours = {n for n in ours if n == Path(n).name and n.endswith(".png")}  # a name in this folder, nothing else
    foreign = [n for n in names if n not in ours and (folder / n).exists()]
    if foreign:
        raise MorphError(f"{folder}/ holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''} that "
                         "morphlib did not write (or an older morphlib, which kept no list of its frames): pick "
                         "another --name or --out, or move those files away")
    old = [folder / n for n in sorted(ours) if (folder / n).is_file()]
    for p in old:
        p.unlink()
    with atomic_path(manifest) as tmp:
        Path(tmp).write_text("".join(f"{n}\n" for n in names))
    return len(old)
