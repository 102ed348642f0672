"""The optimizers, a table: each a class with step(params, grads), updating the weights in place, and the
learning rates they start from."""
import math

from array_api_compat import array_namespace


class SGD:
    LR = 0.5

    def __init__(self, lr=None):
        self.lr = self.LR if lr is None else lr

    def step(self, params, grads):
        for k, g in grads.items():
            params[k] -= self.lr * g


class Adam:
    LR = 0.01

    def __init__(self, lr=None, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = self.LR if lr is None else lr, beta1, beta2, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        lr_t = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for k, g in grads.items():
            xp = array_namespace(g)
            m = self.m.setdefault(k, xp.zeros_like(g))
            v = self.v.setdefault(k, xp.zeros_like(g))
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            params[k] -= lr_t * m / (xp.sqrt(v) + self.eps)


OPTIMIZERS = {"adam": Adam, "sgd": SGD}

# Rates that differ from the optimizer's own LR, by (optimizer, encoding kind, device kind): none at present. Fourier
# nets with Adam do best at Adam's own 0.01 as the peak of learn's cosine schedule on a CPU (bench/learn.py; 0.003
# when the rate was constant), and at a GPU's batch (backend.BATCH) 0.01 was the best of 0.003, 0.01 and 0.03 at
# batch 65536 (measured on a CPU).
RATES = {}


def default_lr(optimizer: str, encoding: str, device: str = "cpu") -> float:
    """The learning rate `optimizer` starts from for nets of `encoding` on a `device` ("cpu" or "gpu")."""
    return RATES.get((optimizer, encoding, device), OPTIMIZERS[optimizer].LR)


def describe_rates() -> str:
    """The default rates in words, for help texts."""
    special = "".join(f"; {o} {lr:g} for {e} nets on a {d.upper()}" for (o, e, d), lr in RATES.items())
    return ", ".join(f"{name} {cls.LR:g}" for name, cls in OPTIMIZERS.items()) + special
