# N5 and N6 (784-1024-1024-10 and 784-4096-4096-10, ReLU, softmax
# cross-entropy, batch 64, f32) as a NumPy user would write one training step:
# forward, loss, every weight and bias gradient. The baseline README
# "Performance" compares bench_table's N5/N6 rows with. Run on one thread:
#   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 scripts/numpy_step.py
import time
import numpy as np

def step(x, y, w1, b1, w2, b2, w3, b3):
    z1 = x @ w1 + b1; h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2; h2 = np.maximum(z2, 0)
    z3 = h2 @ w3 + b3
    m = z3.max(axis=1, keepdims=True)
    e = np.exp(z3 - m); s = e.sum(axis=1, keepdims=True)
    loss = (np.log(s) + m - (y * z3).sum(axis=1, keepdims=True)).mean()
    d3 = (e / s - y) / x.shape[0]
    gw3 = h2.T @ d3; gb3 = d3.sum(0)
    d2 = (d3 @ w3.T) * (z2 > 0)
    gw2 = h1.T @ d2; gb2 = d2.sum(0)
    d1 = (d2 @ w2.T) * (z1 > 0)
    gw1 = x.T @ d1; gb1 = d1.sum(0)
    return loss, gw1, gb1, gw2, gb2, gw3, gb3

for h in (1024, 4096):
    rng = np.random.default_rng(1)
    f = np.float32
    x = rng.standard_normal((64, 784), dtype=f)
    y = np.zeros((64, 10), f); y[np.arange(64), np.arange(64) % 10] = 1
    w1 = (rng.standard_normal((784, h), dtype=f) * 0.05).astype(f); b1 = np.zeros(h, f)
    w2 = (rng.standard_normal((h, h), dtype=f) * 0.03).astype(f); b2 = np.zeros(h, f)
    w3 = (rng.standard_normal((h, 10), dtype=f) * 0.03).astype(f); b3 = np.zeros(10, f)
    step(x, y, w1, b1, w2, b2, w3, b3)
    n = 40 if h == 1024 else 8
    best = 1e9
    for _ in range(n):
        t = time.perf_counter(); step(x, y, w1, b1, w2, b2, w3, b3); best = min(best, time.perf_counter() - t)
    print(f"NumPy {np.__version__} one thread, 784-{h}-{h}-10 batch 64: best of {n} {best*1e3:.2f} ms")
