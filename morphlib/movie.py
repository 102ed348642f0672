"""Frames into files: numbered PNGs, a looping GIF, an H.264 MP4 (imageio's bundled ffmpeg, so offline)."""
from itertools import chain
from pathlib import Path

import numpy as np
from PIL import Image

from .images import atomic_path, to_uint8


def _rgb8(frame) -> np.ndarray:
    """uint8 RGB of a float frame in memory or a picture file."""
    if isinstance(frame, np.ndarray):
        return to_uint8(frame) if frame.dtype != np.uint8 else frame
    with Image.open(frame) as im:
        return np.asarray(im.convert("RGB"))


def write_gif(path, frames, fps) -> Path:
    """A looping GIF from frames (arrays or files), streamed and written atomically."""
    path = Path(path)

    def palette(f):  # a palette of its own per frame; FASTOCTREE is ~20x quicker than Pillow's default
        return Image.fromarray(_rgb8(f)).quantize(256, Image.Quantize.FASTOCTREE)

    first, *rest = frames
    with atomic_path(path) as tmp:
        palette(first).save(tmp, format="GIF", save_all=True, append_images=(palette(f) for f in rest),
                            duration=round(1000 / fps), loop=0)
    return path


def write_mp4(path, frames, fps) -> Path:
    """An H.264 MP4 from frames (arrays or files) through imageio's bundled ffmpeg; odd sizes are padded."""
    import imageio_ffmpeg

    path = Path(path)
    frames = map(_rgb8, frames)
    first = next(frames)
    h, w = first.shape[:2]
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(tmp, (w + w % 2, h + h % 2), fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=1, quality=8,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for rgb in chain([first], frames):
            writer.send(np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")))
        writer.close()
    return path
