"""Permutation matching of hidden units: reorder net B's units to sit where net A's similar ones sit.

A net computes the same picture under any reordering of a hidden layer's units, but interpolating two nets
pairs unit i of A with unit i of B. Weight matching (Ainsworth et al., "Git Re-Basin", 2022) picks, per hidden
layer, the reordering of B that best matches A's weights, alternating between layers until nothing changes."""
import numpy as np
from scipy.optimize import linear_sum_assignment

from .net import Net, check_compatible


def _bias(net, k):
    return net.params.get(f"b{k}", np.zeros(net.hidden, np.float32))[:, None]


def permute(net: Net, p1, p2) -> Net:
    """A copy of `net` with hidden layer 1 reordered by p1 and layer 2 by p2 (renders the same picture)."""
    p = net.params
    out = {**{k: v.copy() for k, v in p.items()}, "W1": p["W1"][:, p1], "W2": p["W2"][p1][:, p2], "W3": p["W3"][p2]}
    if net.has_biases:
        out.update(b1=p["b1"][p1], b2=p["b2"][p2])
    return Net(out, net.encoding, net.activation)


def align(a: Net, b: Net, *, max_rounds=50) -> Net:
    """Net B with its hidden units reordered to match net A's (a copy; B is untouched)."""
    check_compatible(a, b)
    A, B = a.params, b.params
    n = a.hidden
    p1, p2 = np.arange(n), np.arange(n)
    for _ in range(max_rounds):
        s1 = A["W1"].T @ B["W1"] + _bias(a, 1) @ _bias(b, 1).T + A["W2"] @ B["W2"][:, p2].T
        new1 = linear_sum_assignment(s1, maximize=True)[1]
        s2 = A["W2"].T @ B["W2"][new1] + _bias(a, 2) @ _bias(b, 2).T + A["W3"] @ B["W3"].T
        new2 = linear_sum_assignment(s2, maximize=True)[1]
        if np.array_equal(new1, p1) and np.array_equal(new2, p2):
            break
        p1, p2 = new1, new2
    return permute(b, p1, p2)

