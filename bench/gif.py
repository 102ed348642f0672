"""GIF size against colour error: the demo's frames at several --gif-size values, each frame with its own palette
(what movie.Movie writes) and with one palette shared by all frames. Run: python -m bench.gif"""
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from morphlib.movie import GIF_SIZE, write_movie
from morphlib.transition import DEMO_SEQUENCE, write_transition

SIDES = (GIF_SIZE, 192, 128)


def _error(gif: Path, frames) -> float:
    """Mean absolute error, in levels of 255, of the GIF's frames against the frames it was made from (shrunk)."""
    errors = []
    with Image.open(gif) as im:
        for i, path in enumerate(frames):
            im.seek(i)
            got = np.asarray(im.convert("RGB"), np.float32)
            with Image.open(path) as f:
                want = np.asarray(f.convert("RGB").resize(im.size, Image.LANCZOS), np.float32)
            errors.append(np.abs(got - want).mean())
    return float(np.mean(errors))


def _shared_palette(frames, side, fps) -> bytes:
    """The same GIF with one palette, made from all its frames together, for every frame."""
    ims = [Image.open(p).convert("RGB") for p in frames]
    ims = [im.resize((side, round(im.height * side / im.width)), Image.LANCZOS) for im in ims]
    every = Image.fromarray(np.concatenate([np.asarray(im) for im in ims], axis=0))
    palette = every.quantize(256, Image.Quantize.FASTOCTREE)
    first, *rest = (im.quantize(palette=palette, dither=Image.Dither.NONE) for im in ims)
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=rest, duration=round(1000 / fps), loop=0)
    return buf.getvalue()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = demo_frames(tmp)
        print(f"demo: {len(frames)} frames; GIF size and mean error (levels of 255) against the frames")
        for side in SIDES:
            write_movie(frames, {"gif": tmp / f"{side}.gif"}, fps=20, gif_size=side)
            print(f"--gif-size {side}: own palettes {(tmp / f'{side}.gif').stat().st_size / 1e6:.2f} MB, "
                  f"error {_error(tmp / f'{side}.gif', frames):.1f}")
        shared = tmp / "shared.gif"
        shared.write_bytes(_shared_palette(frames, GIF_SIZE, 20))
        print(f"--gif-size {GIF_SIZE}: one shared palette {shared.stat().st_size / 1e6:.2f} MB, "
              f"error {_error(shared, frames):.1f}")


def demo_frames(tmp: Path):
    """The demo's frames as PNGs (the demo itself writes only a GIF)."""
    out = write_transition(DEMO_SEQUENCE, hidden=100, size=256, out=tmp, name="frames", schedule="ease",
                           loop=True, align=True, frames=True)
    return out["frames"]


if __name__ == "__main__":
    main()
