"""Frames streamed, in order, into a movie as they are made: an H.264 MP4 (imageio's bundled ffmpeg, so offline),
a looping GIF, numbered PNGs; any of them at once."""
import os
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from PIL import Image

from . import checks
from .errors import MorphError
from .files import atomic_path
from .images import load_image, save_image, to_uint8

GIF_SIZE = 256  # longer side of a GIF's frames; each frame keeps its own palette (size and error: bench.gif)
MP4_PRESET = "veryfast"  # x264's speed preset (CPU time, size and PSNR of the presets: bench.scale)
MP4_MAX_SIDE = 16384  # x264 refuses wider or taller frames
FPS = 24  # frames a second of a transition's movies
MIN_FPS, MAX_FPS = 0.01, 1000.0  # a frame every 100 s at most (a GIF's frame lasts at most 655 s)


def check_fps(fps) -> float:
    return checks.real("fps", fps, MIN_FPS, MAX_FPS)


def check_mp4_size(width, height):
    """Refuse a frame x264 cannot encode (it would leave an empty file behind a broken pipe)."""
    if max(width, height) > MP4_MAX_SIDE:
        raise MorphError(f"an MP4's frames may be at most {MP4_MAX_SIDE} pixels wide and high (x264's limit), not "
                         f"{width}x{height}: give a smaller size, or write a GIF or PNG frames")


class Movie:
    """`with Movie(fps, mp4=..., gif=..., folder=...) as m: m.add(frame)`: each frame goes at once into the MP4
    writer (ffmpeg encodes as it comes), `folder`/0001.png ... (`digits` wide) and the GIF's frames (shrunk to
    `gif_size` on its longer side and quantized: 64 kB a frame at 256 px, written out at the end). The MP4 and GIF
    appear, complete, when the block ends without an error; never half-written."""

    def __init__(self, fps, *, mp4=None, gif=None, folder=None, digits=4, gif_size=GIF_SIZE, preset=MP4_PRESET):
        self.fps, self.folder = check_fps(fps), checks.optional(checks.path, "folder", folder)
        self.digits, self.gif_size = checks.whole("digits", digits, 1, 12), checks.whole("gif_size", gif_size, 1,
                                                                                          checks.MAX_SIDE)
        self.preset = preset
        self.paths = {k: checks.path(k, p) for k, p in (("mp4", mp4), ("gif", gif)) if p is not None}
        self.pngs, self.count, self._mp4, self._gif = [], 0, None, []

    def __enter__(self) -> "Movie":
        with ExitStack() as stack:
            self._tmp = {k: stack.enter_context(atomic_path(p)) for k, p in self.paths.items()}
            self._files = stack.pop_all()
        return self

    def add(self, frame):
        """Write one frame (float RGB in [0, 1] or uint8, H x W x 3) into every output."""
        rgb = to_uint8(np.asarray(checks.pixels("frame", frame)))
        self.count += 1
        if self.folder is not None:
            self.pngs.append(save_image(Path(self.folder) / f"{self.count:0{self.digits}d}.png", rgb))
        if "mp4" in self.paths:
            self._mp4_frame(rgb)
        if "gif" in self.paths:
            self._gif.append(_gif_frame(rgb, self.gif_size))

    def _mp4_frame(self, rgb):
        import imageio_ffmpeg

        h, w = rgb.shape[:2]
        if self._mp4 is None:  # H.264 wants even sides: odd ones are padded with the edge's pixels
            check_mp4_size(w, h)
            self._mp4 = imageio_ffmpeg.write_frames(self._tmp["mp4"], (w + w % 2, h + h % 2), fps=self.fps,
                                                    codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
                                                    quality=8, ffmpeg_log_level="error",
                                                    output_params=["-preset", self.preset, "-f", "mp4"])
            self._mp4.send(None)
        self._mp4.send(np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")))

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._mp4 is not None:
                self._mp4.close()
                if exc_type is None and not os.path.getsize(self._tmp["mp4"]):
                    raise MorphError(f"ffmpeg wrote no video into {self.paths['mp4']} (its message is above); "
                                     "the earlier file, if any, is left as it was")
            if exc_type is None and self.paths and not self.count:
                raise MorphError("a movie needs at least one frame")
            if exc_type is None and self._gif:
                first, *rest = self._gif
                first.save(self._tmp["gif"], format="GIF", save_all=True, append_images=rest,
                           duration=round(1000 / self.fps), loop=0)
        except BaseException as e:
            self._files.__exit__(type(e), e, e.__traceback__)  # the temp files go; the old movies stay
            raise
        self._files.__exit__(exc_type, exc, tb)  # complete movies replace their files; after an error, nothing
        return False


def _gif_frame(rgb, side) -> Image.Image:
    """A GIF frame: `rgb` shrunk to `side` on its longer side (smaller ones stay), with a palette of its own
    (FASTOCTREE: ~20x quicker than Pillow's default)."""
    im = Image.fromarray(rgb)
    k = side / max(im.size)
    if k < 1:
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.LANCZOS)
    return im.quantize(256, Image.Quantize.FASTOCTREE)


def write_movie(frames, *, fps, **outputs) -> Movie:
    """Stream `frames` (arrays or picture files) into a Movie with `outputs` (mp4=, gif=, folder=, ...)."""
    checks.instance("frames", frames, Iterable, "frames: arrays or picture files, in a list")
    with Movie(fps, **outputs) as movie:
        for f in frames:
            movie.add(f if isinstance(f, np.ndarray) else load_image(f))
    return movie
