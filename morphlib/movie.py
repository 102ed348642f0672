"""Frames streamed, in order, into movies as they are made: a table of formats (FORMATS: an H.264 MP4 and a VP9
WebM through imageio's bundled ffmpeg, so offline; a looping GIF) and numbered PNGs; any of them at once."""
import os
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import checks
from .errors import MorphError
from .files import atomic_path
from .images import load_image, save_image, to_uint8

FPS = 24  # frames a second of a transition's movies
MIN_FPS, MAX_FPS = 0.01, 1000.0  # a frame every 100 s at most (a GIF's frame lasts at most 655 s)
GIF_SIZE = 256  # longer side of a GIF's frames; each frame keeps its own palette (size and error: bench.gif)
MP4_PRESET = "veryfast"  # x264's speed preset (CPU time, size and PSNR of the presets: bench.scale)
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def check_fps(fps) -> float:
    return checks.real("fps", fps, MIN_FPS, MAX_FPS)


class _Gif:
    """A looping GIF: each frame shrunk to `gif_size` on its longer side and quantized as it comes (64 kB a frame
    at 256 px), all written out when the movie ends without an error."""

    def __init__(self, path, tmp, fps, *, gif_size):
        self.tmp, self.fps, self.side, self.frames = tmp, fps, gif_size, []

    def __enter__(self):
        return self

    def add(self, rgb):
        self.frames.append(_gif_frame(rgb, self.side))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            first, *rest = self.frames
            first.save(self.tmp, format="GIF", save_all=True, append_images=rest, duration=round(1000 / self.fps),
                       loop=0)


def _gif_frame(rgb, side) -> Image.Image:
    """A GIF frame: `rgb` shrunk to `side` on its longer side (smaller ones stay), with a palette of its own
    (FASTOCTREE: ~20x quicker than Pillow's default)."""
    im = Image.fromarray(rgb)
    k = side / max(im.size)
    if k < 1:
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.LANCZOS)
    return im.quantize(256, Image.Quantize.FASTOCTREE)


class _Ffmpeg:
    """Frames piped into imageio's bundled ffmpeg as they come, encoded with `encoder` (write_frames' keywords);
    `even`: odd sides are padded with the edge's pixels (H.264 wants even ones)."""

    def __init__(self, path, tmp, fps, *, even=False, **encoder):
        self.path, self.tmp, self.fps, self.even, self.encoder, self._pipe = path, tmp, fps, even, encoder, None

    def __enter__(self):
        return self

    def add(self, rgb):
        h, w = rgb.shape[:2]
        dh, dw = (h % 2, w % 2) if self.even else (0, 0)
        if self._pipe is None:
            import imageio_ffmpeg

            self._pipe = imageio_ffmpeg.write_frames(self.tmp, (w + dw, h + dh), fps=self.fps, pix_fmt_out="yuv420p",
                                                     macro_block_size=1, ffmpeg_log_level="error", **self.encoder)
            self._pipe.send(None)
        self._pipe.send(np.ascontiguousarray(np.pad(rgb, ((0, dh), (0, dw), (0, 0)), mode="edge")))

    def __exit__(self, exc_type, exc, tb):
        if self._pipe is not None:
            self._pipe.close()
        if exc_type is None and not os.path.getsize(self.tmp):
            raise MorphError(f"ffmpeg wrote no video into {self.path} (its message is above); the earlier file, if "
                             "any, is left as it was")


def _mp4(path, tmp, fps, *, mp4_preset):
    return _Ffmpeg(path, tmp, fps, even=True, codec="libx264", quality=8,
                   output_params=["-preset", mp4_preset, "-f", "mp4"])


def _webm(path, tmp, fps):
    """VP9 at libvpx's realtime speed: as quick as the MP4, a smaller file (bench.scale)."""
    return _Ffmpeg(path, tmp, fps, codec="libvpx-vp9", quality=None,
                   output_params=["-deadline", "realtime", "-cpu-used", "8", "-crf", "20", "-b:v", "0", "-row-mt", "1",
                                  "-f", "webm"])


@dataclass(frozen=True)
class Option:
    """A format's own keyword option: its default, its --help text and its check(name, value) -> value."""

    default: object
    help: str
    check: Callable


@dataclass(frozen=True)
class Format:
    """A movie format, a row of FORMATS. `writer(path, tmp, fps, **options)` is a context manager that writes the
    movie `path` (as its messages name it) into the file `tmp`: add(rgb) takes each frame (uint8, H x W x 3) as it
    comes, and leaving it without an error finishes the file. `title` and `article` name the format in messages,
    `help` is its --switch's; `options` {name: Option} are its own; its frames may be at most `max_side` pixels wide
    and high (`limit`: whose rule; None: no limit of its own); its encoder holds about `memory` bytes a frame pixel
    at its peak (transition.frame_memory)."""

    writer: Callable
    suffix: str
    title: str
    article: str
    help: str
    options: dict = field(default_factory=dict)
    max_side: int | None = None
    limit: str = ""
    memory: int = 0


FORMATS = {
    "gif": Format(_Gif, ".gif", "GIF", "a", "also write <out>/<name>.gif (loops)",
                  {"gif_size": Option(GIF_SIZE, "longer side of the GIF's frames (default %(default)s)",
                                      lambda name, v: checks.whole(name, v, 1, checks.MAX_SIDE))}),
    "mp4": Format(_mp4, ".mp4", "MP4", "an", "also write <out>/<name>.mp4 (H.264)",
                  {"mp4_preset": Option(MP4_PRESET, "x264's speed: " + ", ".join(X264_PRESETS) + " (slower ones "
                                        "make smaller MP4s; default %(default)s)",
                                        lambda name, v: checks.choice(name, v, X264_PRESETS))},
                  max_side=16384, limit="x264's limit",  # wider or taller, x264 leaves an empty file
                  memory=10),  # x264 at its peak (1.3 GB against 0.7 GB without it at 8000x8000)
    "webm": Format(_webm, ".webm", "WebM", "a", "also write <out>/<name>.webm (VP9: smaller, plays in browsers)",
                   max_side=65536, limit="VP9's limit",
                   memory=17),  # 1.7x x264's peak (ffmpeg's own, 12 frames of 3000x3000: 1.33 GB against 0.78 GB)
}


def check_formats(movies) -> tuple:
    """`movies` (a list or tuple of FORMATS' names) checked, repeats dropped."""
    names = ", ".join(FORMATS)
    checks.instance("movies", movies, (list, tuple), f"a list of movie formats such as ['gif'] (of {names})")
    return tuple(dict.fromkeys(checks.choice("movie format", m, FORMATS) for m in movies))


def switches() -> str:
    """The formats' switches, as messages name them: '--gif, --mp4, ...'."""
    return ", ".join(f"--{kind}" for kind in FORMATS)


def format_options() -> dict:
    """{name: (format, Option)} of every format's own options."""
    return {name: (kind, option) for kind, row in FORMATS.items() for name, option in row.options.items()}


def check_options(movies, given: dict) -> dict:
    """{format: {option: value}} for `movies` (format names): the `given` options checked by their rows, the rest at
    their defaults. An unknown option, or one set for a format that is not asked for, is refused."""
    known, chosen = format_options(), {kind: {} for kind in movies}
    for name in given:
        if name in FORMATS:
            raise MorphError(f"{name} is a movie format, not an option: ask for it in movies, e.g. movies=['{name}']")
        checks.choice("movie option", name, known)
    for name, (kind, option) in known.items():
        value = option.check(name, given[name]) if name in given else option.default
        if kind in chosen:
            chosen[kind][name] = value
        elif value != option.default:
            row = FORMATS[kind]
            raise MorphError(f"{name} {checks.brief(value)} has no effect without {row.article} {row.title} "
                             f"(--{kind}): ask for one, or leave {name} alone")
    return chosen


def check_frame_size(movies, width, height):
    """Refuse frames wider or higher than one of `movies` (format names) can hold, before anything is written."""
    for kind in movies:
        row = FORMATS[kind]
        if row.max_side is not None and max(width, height) > row.max_side:
            raise MorphError(f"{row.article} {row.title}'s frames may be at most {row.max_side} pixels wide and high "
                             f"({row.limit}), not {width}x{height}: give a smaller size, or write another movie "
                             "format or PNG frames")


class Movie:
    """`with Movie(fps, {"mp4": path, "gif": path}, folder=...) as m: m.add(frame)`: each frame goes at once into
    every format's writer (FORMATS; `options`: their own, such as gif_size) and into `folder`/0001.png ...
    (`digits` wide). The movies appear, complete, when the block ends without an error; never half-written."""

    def __init__(self, fps, paths=None, *, folder=None, digits=4, **options):
        self.fps, self.folder = check_fps(fps), checks.optional(checks.path, "folder", folder)
        self.digits = checks.whole("digits", digits, 1, 12)
        self.paths = _check_paths({} if paths is None else paths)
        self.options = check_options(self.paths, options)
        self.pngs, self.count, self._writers = [], 0, {}

    def __enter__(self) -> "Movie":
        with ExitStack() as files, ExitStack() as writers:
            for kind, path in self.paths.items():
                tmp = files.enter_context(atomic_path(path))
                self._writers[kind] = writers.enter_context(FORMATS[kind].writer(path, tmp, self.fps,
                                                                                 **self.options[kind]))
            self._files, self._ending = files.pop_all(), writers.pop_all()
        return self

    def add(self, frame):
        """Write one frame (float RGB in [0, 1] or uint8, H x W x 3) into every output."""
        rgb = to_uint8(np.asarray(checks.pixels("frame", frame)))
        if not self.count:
            check_frame_size(self.paths, rgb.shape[1], rgb.shape[0])
        self.count += 1
        if self.folder is not None:
            self.pngs.append(save_image(Path(self.folder) / f"{self.count:0{self.digits}d}.png", rgb))
        for writer in self._writers.values():
            writer.add(rgb)

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self.paths and not self.count:
                raise MorphError("a movie needs at least one frame")
            self._ending.__exit__(exc_type, exc, tb)  # each writer finishes its file; after an error, it stops
        except BaseException as e:
            self._ending.__exit__(type(e), e, e.__traceback__)  # the writers not yet stopped stop
            self._files.__exit__(type(e), e, e.__traceback__)  # the temp files go; the old movies stay
            raise
        self._files.__exit__(exc_type, exc, tb)  # complete movies replace their files; after an error, nothing
        return False


def _check_paths(paths) -> dict:
    """{format: Path} from {format name: file name}, else a MorphError."""
    checks.instance("paths", paths, dict, "a dict of movie formats and file names, such as {'gif': 'result/m.gif'}")
    return {checks.choice("movie format", kind, FORMATS): checks.path(kind, p) for kind, p in paths.items()}


def write_movie(frames, paths=None, *, fps, **outputs) -> Movie:
    """Stream `frames` (arrays or picture files) into a Movie(fps, paths, **outputs) (folder=, gif_size=, ...)."""
    checks.instance("frames", frames, Iterable, "frames: arrays or picture files, in a list")
    with Movie(fps, paths, **outputs) as movie:
        for f in frames:
            movie.add(f if isinstance(f, np.ndarray) else load_image(f))
    return movie
