"""Write the tiny .npy files test/fixtures.test.ts reads, with numpy itself (python3 test/data/make_npy.py).

probs: N=6 samples, K=3 exits, C=4 classes; entry [n, k, c] is softmax(z)[c] for z = (n + 1) * (k + 1) * 0.1 * c,
so every value is distinct across (n, k) and the test can recompute it. Saved as float32 [N,K,C] ("NKC"),
float64 [N,K,C], and float32 [K,N,C] ("KNC"); labels are int64 (numpy's default integer on 64-bit Linux).
"""
import os
import numpy as np

N, K, C = 6, 3, 4
here = os.path.dirname(os.path.abspath(__file__))
n = np.arange(N)[:, None, None]
k = np.arange(K)[None, :, None]
c = np.arange(C)[None, None, :]
z = (n + 1) * (k + 1) * 0.1 * c
probs = np.exp(z - z.max(axis=2, keepdims=True))
probs /= probs.sum(axis=2, keepdims=True)
labels = np.array([0, 1, 2, 3, 3, 1], dtype=np.int64)

np.save(os.path.join(here, "probs-nkc-f32.npy"), probs.astype(np.float32))
np.save(os.path.join(here, "probs-nkc-f64.npy"), probs.astype(np.float64))
np.save(os.path.join(here, "probs-knc-f32.npy"), np.ascontiguousarray(probs.transpose(1, 0, 2)).astype(np.float32))
np.save(os.path.join(here, "labels-i64.npy"), labels)
