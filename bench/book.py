"""T. Rashid's train() with a second hidden layer, one pixel at a time in column vectors, as the book writes it:
the reference the tests check morphlib's gradients against and bench.fit races."""
import numpy as np
from scipy.special import expit


def book_step(wih, whh, who, inputs, targets, lr, *, corrected=True):
    """One update of the weights (float64, in place) for one pixel. corrected=True: the seed article's fix, the
    output's derivative moved into the error passed back; False: the book's original."""
    i = np.array(inputs, ndmin=2).T
    t = np.array(targets, ndmin=2).T
    h1 = expit(wih @ i)
    h2 = expit(whh @ h1)
    o = expit(who @ h2)
    out_err = t - o
    e3 = out_err * o * (1 - o)
    h2_err = who.T @ (e3 if corrected else out_err)
    e2 = h2_err * h2 * (1 - h2)
    h1_err = whh.T @ (e2 if corrected else h2_err)
    e1 = h1_err * h1 * (1 - h1)
    who += lr * e3 @ h2.T
    whh += lr * e2 @ h1.T
    wih += lr * e1 @ i.T
