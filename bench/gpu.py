"""morphlib on CuPy against the same net in PyTorch on one GPU, side by side in one run (issue #13's bar).

Net: 256 Fourier features -> 100 ReLU -> 100 ReLU -> 3 sigmoid, Adam, the same batch and learning rate on both.
Printed: seconds per epoch at 256x256 and 1024x1024; ms per frame at 512x512, 1920x1080 and 3840x2160 (uint8,
copied to the host); PSNR reached in 5 s on img/4.png at a few batch sizes; the targets beside them.
Needs CuPy (requirements-gpu.txt) and PyTorch with CUDA (pip install -e .[bench]); without a GPU it says so and
exits 0.  Usage: python -m bench.gpu [--seconds 5] [--batch 65536]
"""
import argparse
import statistics
import time

import numpy as np

from morphlib.backend import BATCH, cupy_namespace
from morphlib.encoding import grid, make_encoding
from morphlib.images import load_image, resize
from morphlib.net import init_net
from morphlib.optim import default_lr
from morphlib.render import render
from morphlib.train import train

H = 100
GPU_LR = default_lr("adam", "fourier", "gpu")  # what learn uses for Fourier nets on a GPU
EPOCH_SIZES = (256, 1024)
FRAME_SIZES = ((512, 512), (1920, 1080), (3840, 2160))
PSNR_BATCHES = (65536, 16384, 4096)
TARGETS = {"epoch": "<= 1.2x PyTorch", (1920, 1080): "<= 15 ms", (3840, 2160): "<= 70 ms", "psnr": ">= 33 dB"}


def picture(side):
    img = load_image("img/4.png")
    return img if img.shape[0] == side else resize(img, (side, side))


def morphlib_epochs(img, batch, epochs=6):
    """Median seconds per epoch after the first (the loss is read once per epoch, so each gap is a whole epoch)."""
    stamps = []
    train(init_net(H, make_encoding("fourier"), seed=0), img, epochs=epochs, batch=batch, lr=GPU_LR,
          device="gpu", on_epoch=lambda *_: stamps.append(time.perf_counter()))
    return statistics.median(np.diff(stamps))


def morphlib_psnr(img, batch, seconds):
    r = train(init_net(H, make_encoding("fourier"), seed=0), img, epochs=10**9, batch=batch, lr=GPU_LR,
              device="gpu", time_limit=seconds)
    return r.psnr, len(r.history)


def morphlib_frame(net, size, repeat=5):
    return _best(lambda: render(net, size[1], size[0], device="gpu", uint8=True), repeat)


def _best(f, repeat):
    f()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f()  # returns host arrays: the copy (and so the wait for the GPU) is inside the timing
        best = min(best, time.perf_counter() - start)
    return best


class Torch:
    """The same net, features, optimizer and batch in PyTorch (bench-only)."""

    def __init__(self, torch, device="cuda"):
        self.torch, self.dev = torch, torch.device(device)
        self.B = torch.from_numpy(make_encoding("fourier")["B"]).to(self.dev)

    def features(self, xy):
        proj = 2 * np.pi * (xy @ self.B)
        return self.torch.cat([self.torch.sin(proj), self.torch.cos(proj)], dim=1)

    def model(self):
        nn = self.torch.nn
        self.torch.manual_seed(0)
        return nn.Sequential(nn.Linear(512, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 3),
                             nn.Sigmoid()).to(self.dev)

    def fit(self, img, batch, *, epochs=10**9, seconds=None):
        """(seconds per epoch after the first, PSNR, epochs) for a run of `epochs` or `seconds`."""
        torch = self.torch
        h, w = img.shape[:2]
        X = self.features(torch.from_numpy(grid(h, w)).to(self.dev))
        T = torch.from_numpy(np.ascontiguousarray(img.reshape(-1, 3))).to(self.dev)
        model = self.model()
        opt = torch.optim.Adam(model.parameters(), lr=GPU_LR)
        stamps, best, start = [], 0.0, time.perf_counter()
        for _ in range(epochs):
            sq = torch.zeros((), device=self.dev)
            for idx in torch.randperm(len(X), device=self.dev).split(batch):
                opt.zero_grad(set_to_none=True)
                err = model(X[idx]) - T[idx]
                loss = (err * err).mean()
                loss.backward()
                opt.step()
                sq += loss.detach() * len(idx)
            best = max(best, 10 * np.log10(len(X) / float(sq)))  # one sync per epoch, as morphlib
            stamps.append(time.perf_counter())
            if seconds is not None and stamps[-1] - start >= seconds:
                break
        return statistics.median(np.diff(stamps)) if len(stamps) > 2 else float("nan"), best, len(stamps)

    def frame(self, size, repeat=5, chunk=BATCH["gpu"] * 32):
        torch, (w, h) = self.torch, size
        model, xy = self.model(), torch.from_numpy(grid(h, w)).to(self.dev)

        def once():
            with torch.inference_mode():
                out = torch.cat([model(self.features(xy[i:i + chunk])) for i in range(0, len(xy), chunk)])
                return (out.clamp(0, 1) * 255 + 0.5).to(torch.uint8).reshape(h, w, 3).cpu().numpy()
        return _best(once, repeat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="training time for the PSNR row")
    ap.add_argument("--batch", type=int, default=BATCH["gpu"], help="batch of the epoch rows (default %(default)s)")
    a = ap.parse_args()
    if cupy_namespace() is None:
        print("no GPU/CuPy here: bench.gpu needs an NVIDIA GPU, CuPy (pip install -r requirements-gpu.txt) and "
              "PyTorch with CUDA; nothing measured")
        return 0
    try:
        import torch

        peer = Torch(torch) if torch.cuda.is_available() else None
    except ImportError:
        peer = None
    if peer is None:
        print("PyTorch with CUDA is not installed (pip install -e .[bench]): its column stays empty")
    print(f"GPU: {_gpu_name()}; Fourier 256 -> {H} -> {H} -> 3, Adam lr {GPU_LR:g}")
    print(f"\n{'':42s} {'morphlib':>10s} {'PyTorch':>10s} {'ratio':>6s}  target")
    nan = float("nan")
    for side in EPOCH_SIZES:
        img = picture(side)
        m, t = morphlib_epochs(img, a.batch), peer.fit(img, a.batch, epochs=6)[0] if peer else nan
        _row(f"s/epoch {side}x{side}, batch {a.batch}", m, t, TARGETS["epoch"])
    net = train(init_net(H, make_encoding("fourier"), seed=0), picture(256), epochs=3, device="gpu").net
    for size in FRAME_SIZES:
        m, t = morphlib_frame(net, size) * 1000, peer.frame(size) * 1000 if peer else nan
        _row(f"ms/frame {size[0]}x{size[1]} (uint8, on the host)", m, t, TARGETS.get(size, ""))
    for batch in PSNR_BATCHES:
        (m, m_epochs), (t, t_epochs) = morphlib_psnr(picture(256), batch, a.seconds), (
            peer.fit(picture(256), batch, seconds=a.seconds)[1:] if peer else (nan, 0))
        _row(f"PSNR dB in {a.seconds:g} s, img/4.png, batch {batch}", m, t,
             f"{TARGETS['psnr']} ({m_epochs} / {t_epochs} epochs)")
    return 0


def _gpu_name():
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()


def _row(name, mine, peer, target):
    print(f"{name:42s} {mine:10.4g} {peer:10.4g} {mine / peer:6.2f}  {target}")


if __name__ == "__main__":
    raise SystemExit(main())
