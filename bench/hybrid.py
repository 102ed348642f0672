"""Hybrid images: the article's loop as written vs morphlib's default, one process, one 512x512 pair
(Grace Hopper up close, the sample logo from afar; kernel 15, sigma 3, m_precise 0.1, m_blurred 1).

The article: eager TensorFlow, float64, a numpy round trip per step, plain gradient descent lr 0.3, grey start,
200 steps. morphlib: float32 tf.function, blurred target computed once, Adam from the Fourier baseline's picture;
it runs until its loss is no worse than the article's after 200 steps. Also: morphlib with the article's own
settings (GD 0.3, grey start, 200 steps, float32), to show it reproduces the article's loss.
Usage: python -m bench.hybrid
"""
import time

import numpy as np

from morphlib.hybrid import Blender, _tensorflow, gauss_kernel, hybrid_fft
from morphlib.images import resize, save_image
from morphlib.samples import logo, photo

SIZE, KERNEL, SIGMA, M_PRECISE, M_BLURRED = 512, 15, 3.0, 0.1, 1.0


class ArticleModel:
    """The article's MyModel: variables float64, eager GradientTape, gradient applied through numpy."""

    def __init__(self, h, w, kernel_size, sigma):
        tf = self.tf = _tensorflow()
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
        return self.run(**run_kwargs)[0], self.tf.math.sigmoid(self.trainable_image)[0].numpy()


def main():
    near = photo(SIZE)
    far = resize(logo(), (SIZE, SIZE))
    _tensorflow()  # both pay TensorFlow's import outside the timings

    start = time.perf_counter()
    article_loss, article_img = ArticleModel(SIZE, SIZE, KERNEL, SIGMA).train(
        200, 0.3, img_precise=near.astype(np.float64), img_blurred=far.astype(np.float64),
        m_precise=M_PRECISE, m_blurred=M_BLURRED)
    article_s = time.perf_counter() - start

    start = time.perf_counter()
    blender = Blender(near, far, kernel_size=KERNEL, sigma=SIGMA, m_precise=M_PRECISE, m_blurred=M_BLURRED)
    report = blender.report()
    while report.loss > article_loss:
        report = blender.run(5)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    same = Blender(near, far, kernel_size=KERNEL, sigma=SIGMA, m_precise=M_PRECISE, m_blurred=M_BLURRED,
                   optimizer="gd", lr=0.3, start="grey").run(200)
    same_s = time.perf_counter() - start

    fft = hybrid_fft(near, far, SIGMA, kernel_size=KERNEL, m_precise=M_PRECISE, m_blurred=M_BLURRED)
    print(f"\n{SIZE}x{SIZE} hybrid, kernel {KERNEL}, sigma {SIGMA}, m_precise {M_PRECISE}, m_blurred {M_BLURRED}")
    print(f"{'':40s} {'seconds':>8s} {'steps':>6s} {'loss':>10s}")
    print(f"{'article loop (eager, float64, GD 0.3)':40s} {article_s:8.2f} {200:6d} {article_loss:10.1f}")
    print(f"{'morphlib, the article settings':40s} {same_s:8.2f} {200:6d} {same.loss:10.1f}")
    print(f"{'morphlib default (Adam, fft start)':40s} {ours_s:8.2f} {report.steps:6d} {report.loss:10.1f}")
    print(f"{'Fourier baseline alone':40s} {'':8s} {0:6d} {fft.loss:10.1f}")
    print(f"\nspeed-up to reach the article's loss: {article_s / ours_s:.1f}x (target >= 20x)")
    for name, img in (("article", article_img), ("morphlib", report.image), ("fft", fft.image)):
        save_image(f"result/bench-hybrid-{name}.png", img)
    print("pictures: result/bench-hybrid-{article,morphlib,fft}.png")


if __name__ == "__main__":
    main()
