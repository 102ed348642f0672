"""Hybrid images: how fast each way reaches the picture the loss really wants, on two 512x512 pairs:
Grace Hopper up close with a busy, high-contrast night city from afar (like the article's pair), and Grace
Hopper with the sample logo (kernel 15, sigma 3, m_precise 0.1, m_blurred 1, the article's settings).

The target is the converged optimum of the same loss: L-BFGS-B in float64 numpy (scipy), pixels bounded to
[1e-4, 1], run until the loss stops falling. Each way is scored by its loss and by the mean absolute difference
(MAD) of its picture from that optimum; "reached" is the first step within MAD 0.01.
The article's loop as written (eager TensorFlow, float64, a numpy round trip per step, GD lr 0.3, grey start) is
timed per step; its steps to MAD 0.01 are counted with morphlib's float32 step of the same GD (checked to give the
same loss), since thousands of its eager steps would take hours. morphlib's default, Blender(near, far):
L-BFGS-B from the Fourier baseline; Adam 0.1 (the earlier default) beside it.
Usage: python -m bench.hybrid (--memory: peak bytes a pixel of each way, hybrid.BYTES_PER_PIXEL)
"""
import subprocess
import sys
import time

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import convolve1d
from scipy.optimize import minimize

from morphlib.hybrid import BYTES_PER_PIXEL, GAMMA, Blender, gauss_kernel, hybrid_fft, tensorflow
from morphlib.images import resize, save_image
from morphlib.samples import logo, photo

SIZE, KERNEL, SIGMA, M_PRECISE, M_BLURRED = 512, 15, 3.0, 0.1, 1.0
CLOSE, GD_CAP, TIMED_ARTICLE_STEPS = 0.01, 2000, 20


class ArticleModel:
    """The article's MyModel: variables float64, eager GradientTape, gradient applied through numpy."""

    def __init__(self, h, w, kernel_size, sigma):
        tf = self.tf = tensorflow()
        self.trainable_image = tf.Variable(initial_value=np.zeros((1, h, w, 3)), trainable=True)
        k = gauss_kernel(kernel_size, sigma)
        self.gauss_kernel_x = tf.constant(k[np.newaxis, :, np.newaxis, np.newaxis] * np.ones((1, 1, 3, 1)))
        self.gauss_kernel_y = tf.constant(k[:, np.newaxis, np.newaxis, np.newaxis] * np.ones((1, 1, 3, 1)))

    def gauss_blur(self, img):
        tf = self.tf
        img = tf.nn.depthwise_conv2d(img, self.gauss_kernel_x, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(img, self.gauss_kernel_y, [1, 1, 1, 1], "SAME")

    def run(self, img_precise, img_blurred, m_precise=1, m_blurred=1):
        tf = self.tf
        with tf.GradientTape() as tape:
            trainable_image01 = tf.math.sigmoid(self.trainable_image)
            loss_precise = tf.reduce_sum(tf.square(trainable_image01 - img_precise[np.newaxis, :, :, :]))
            blurred = self.gauss_blur(trainable_image01 ** 2.2) ** (1.0 / 2.2)
            blurred_label = self.gauss_blur(img_blurred[np.newaxis, :, :, :] ** 2.2) ** (1.0 / 2.2)
            loss_gauss = tf.reduce_sum(tf.square(blurred - blurred_label))
            loss = loss_precise * m_precise + loss_gauss * m_blurred
        gradient = tape.gradient(loss, self.trainable_image)
        return float(loss), gradient.numpy()

    def apply_gradient(self, grad, lr):
        self.trainable_image.assign(self.trainable_image.numpy() - lr * grad)

    def train(self, steps_count, lr, **run_kwargs):
        for _ in range(steps_count):
            loss, grad = self.run(**run_kwargs)
            self.apply_gradient(grad, lr)
        return self.run(**run_kwargs)[0]


def city(size=SIZE, seed=1) -> np.ndarray:
    """A busy, high-contrast scene: a night skyline with lit windows and a moon."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, size)[:, None, None]
    sky = ((1 - t) * np.array([20, 30, 90]) + t * np.array([250, 120, 60])) * np.ones((1, size, 3))
    im = Image.fromarray(sky.astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.ellipse([size * 0.65, size * 0.12, size * 0.8, size * 0.27], fill=(255, 250, 220))
    for layer, shade in enumerate((0.55, 0.3, 0.1)):
        x = -int(rng.integers(0, size // 10))
        while x < size:
            w = int(rng.integers(size // 16, size // 6))
            top = int(size * rng.uniform(0.25 + 0.12 * layer, 0.6 + 0.1 * layer))
            d.rectangle([x, top, x + w, size], fill=tuple(((np.array([60, 70, 110]) + rng.integers(0, 60, 3))
                                                           * shade).astype(int)))
            for wy in range(top + 6, size - 6, 14):
                for wx in range(x + 5, x + w - 8, 12):
                    if rng.random() < 0.45:
                        lit = (255, 220, 90) if rng.random() < 0.8 else (120, 220, 255)
                        d.rectangle([wx, wy, wx + 5, wy + 7], fill=lit)
            x += w + int(rng.integers(0, size // 40))
    return np.asarray(im, np.float32) / 255.0


def optimum(near, far):
    """The loss's converged optimum: L-BFGS-B over the pixels in float64, with the gradient written out."""
    k = gauss_kernel(KERNEL, SIGMA)
    blur = lambda u: convolve1d(convolve1d(u, k, 0, mode="constant"), k, 1, mode="constant")  # noqa: E731
    near = near.astype(np.float64)
    target = blur(far.astype(np.float64) ** GAMMA) ** (1 / GAMMA)

    def loss_and_grad(v):
        x = v.reshape(near.shape)
        u = blur(x ** GAMMA)
        r = u ** (1 / GAMMA) - target
        loss = M_PRECISE * np.sum((x - near) ** 2) + M_BLURRED * np.sum(r * r)
        g = 2 * M_PRECISE * (x - near) + x ** (GAMMA - 1) * blur(2 * M_BLURRED * r * u ** (1 / GAMMA - 1))
        return loss, g.ravel()

    res = minimize(loss_and_grad, np.full(near.size, 0.5), jac=True, method="L-BFGS-B",
                   bounds=[(1e-4, 1.0)] * near.size, options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    return res.x.reshape(near.shape).astype(np.float32), float(res.fun), int(res.nit)


def trail(make, best, cap, every):
    """{step: (loss, MAD from best)} of a fresh Blender run for `cap` steps, and the first step within CLOSE."""
    blender, seen = make(), {}
    blender.run(cap, every=every,
                on_step=lambda i, n, h: seen.update({h[0]: (h[1], float(np.mean(np.abs(blender.image() - best))))}))
    close = [k for k, (_, mad) in sorted(seen.items()) if mad < CLOSE]
    return seen, (close[0] if close else None)


def timed(make, steps):
    """Seconds a fresh Blender takes for `steps` steps (without the checks), and its report."""
    r = make().run(steps)
    return r.seconds, r


def compare(name, near, far):
    settings = {"kernel_size": KERNEL, "sigma": SIGMA, "m_precise": M_PRECISE, "m_blurred": M_BLURRED}
    start = time.perf_counter()
    best, best_loss, iters = optimum(near, far)
    opt_s = time.perf_counter() - start
    mad = lambda img: float(np.mean(np.abs(img - best)))  # noqa: E731
    start = time.perf_counter()
    article_loss = ArticleModel(SIZE, SIZE, KERNEL, SIGMA).train(
        TIMED_ARTICLE_STEPS, 0.3, img_precise=near.astype(np.float64), img_blurred=far.astype(np.float64),
        m_precise=M_PRECISE, m_blurred=M_BLURRED)
    per_step = (time.perf_counter() - start) / TIMED_ARTICLE_STEPS
    gd = lambda: Blender(near, far, **settings, optimizer="gd", lr=0.3, start="grey")  # noqa: E731
    check = gd().run(TIMED_ARTICLE_STEPS).loss
    gd_trail, gd_steps = trail(gd, best, GD_CAP, 10)
    rows = [("converged optimum (L-BFGS-B, float64 numpy)", str(iters), opt_s, best_loss, 0.0),
            ("article loop as written, its 200 steps", "200", 200 * per_step, *gd_trail[200])]
    gd_at = gd_steps or GD_CAP
    rows.append((f"article loop, to MAD < {CLOSE}" + ("" if gd_steps else " (not there)"),
                 str(gd_at) if gd_steps else f">{GD_CAP}", gd_at * per_step, *gd_trail[gd_at]))
    ours = {}
    for label, make, cap, every in (
            ("morphlib Adam 0.1, fft start", lambda: Blender(near, far, **settings, optimizer="adam"), 600, 5),
            ("morphlib default (L-BFGS, fft start)", lambda: Blender(near, far, **settings), 200, 1)):
        steps = trail(make, best, cap, every)[1]
        seconds, r = timed(make, steps or cap)
        ours[label] = (seconds if steps else None, r.image)
        rows.append((f"{label}, to MAD < {CLOSE}", str(steps) if steps else f">{cap}", seconds, r.loss, mad(r.image)))
    fft = hybrid_fft(near, far, SIGMA, kernel_size=KERNEL, m_precise=M_PRECISE, m_blurred=M_BLURRED)
    rows.append(("Fourier baseline alone", "0", 0.0, fft.loss, mad(fft.image)))
    print(f"\n{name}: {SIZE}x{SIZE}, kernel {KERNEL}, sigma {SIGMA}, m_precise {M_PRECISE}, m_blurred {M_BLURRED}")
    print(f"{'':52s} {'steps':>6s} {'seconds':>8s} {'loss':>9s} {'MAD':>7s}")
    for label, steps, seconds, loss, diff in rows:
        print(f"{label:52s} {steps:>6s} {seconds:8.2f} {loss:9.1f} {diff:7.4f}")
    print(f"article loop: {per_step:.3f} s/step as written (its loss after {TIMED_ARTICLE_STEPS} steps "
          f"{article_loss:.1f}; morphlib's float32 GD: {check:.1f}); its longer runs are counted with morphlib's GD")
    default_s = ours["morphlib default (L-BFGS, fft start)"][0]
    article_s = gd_at * per_step
    print(f"speed-up of the default to MAD < {CLOSE}: {'' if gd_steps else 'more than '}"
          f"{article_s / default_s:.0f}x the article's loop" if default_s else "the default did not get there")
    save_image(f"result/bench-hybrid-{name}-optimum.png", best)
    save_image(f"result/bench-hybrid-{name}-article200.png", gd().run(200).image)
    save_image(f"result/bench-hybrid-{name}-morphlib.png", ours["morphlib default (L-BFGS, fft start)"][1])


MEASURE = """
import resource, sys
import numpy as np
from morphlib.hybrid import Blender, hybrid_fft, tensorflow
side, way = int(sys.argv[1]), sys.argv[2]
near, far = (np.random.default_rng(k).random((side, side, 3), np.float32) for k in (0, 1))
tensorflow()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hybrid_fft(near, far) if way == "fft" else Blender(near, far, optimizer=way).run(3)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / side**2)
"""


def memory(sides=(400, 800)):
    """Peak memory per pixel of each way of making a hybrid, past TensorFlow's own, in a fresh process each (what
    hybrid.BYTES_PER_PIXEL holds, rounded up)."""
    print(f"{'bytes a pixel':16s}" + "".join(f"{f'{s}x{s}':>12s}" for s in sides) + f"{'BYTES_PER_PIXEL':>18s}")
    for way, kept in BYTES_PER_PIXEL.items():
        runs = [subprocess.run([sys.executable, "-c", MEASURE, str(s), way], capture_output=True, text=True,
                               check=True).stdout.split()[-1] for s in sides]
        print(f"{way:16s}" + "".join(f"{float(r):12.0f}" for r in runs) + f"{kept:18d}")


def main():
    if "--memory" in sys.argv:
        return memory()
    near = photo(SIZE)
    tensorflow()  # everyone pays TensorFlow's import outside the timings
    compare("city", near, city())
    compare("logo", near, resize(logo(), (SIZE, SIZE)))
    print("pictures: result/bench-hybrid-{city,logo}-{optimum,article200,morphlib}.png")


if __name__ == "__main__":
    main()
