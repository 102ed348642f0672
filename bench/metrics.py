"""Measures of a transition for the benches and the README's figures: smoothness, and a strip of frames."""
import numpy as np
from PIL import Image

from morphlib.errors import MorphError
from morphlib.images import resize


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
