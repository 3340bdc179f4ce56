#!/usr/bin/env python3
"""Fits the polynomial of `exp_f32` (crates/runtime/src/exp.rs).

e^r ~ 1 + r + c2 r^2 + ... + c6 r^6 on |r| <= ln2/2 (a hair wider, for the
rounding of k), minimax in relative error by Lawson's iteratively reweighted
least squares on Chebyshev nodes. The coefficients are rounded to f32 one at a
time, lowest degree first, each time refitting the ones still free, so the
rounding of one is absorbed by the others. Needs numpy.
"""
import numpy as np

DEGREE = 6
R = 0.5 * np.log(2) * 1.0005


def fit(fixed, nodes=6000, iters=400):
    r = R * np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    e = np.exp(r)
    base = sum(c * r**i for i, c in enumerate(fixed))
    a = np.stack([r**j / e for j in range(len(fixed), DEGREE + 1)], 1)
    b = (e - base) / e
    w = np.full(nodes, 1.0 / nodes)
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
        err = np.abs(a @ c - b)
        w = w * err
        w /= w.sum()
    return c


coefs = [1.0, 1.0]
while len(coefs) <= DEGREE:
    coefs.append(float(np.float32(fit(coefs)[0])))
r = np.linspace(-R, R, 200001)
p = sum(c * r**i for i, c in enumerate(coefs))
print("max relative error with f32 coefficients: %.2e" % np.max(np.abs(p / np.exp(r) - 1)))
for i, c in enumerate(coefs):
    print("c%d = %r" % (i, np.float32(c)))
