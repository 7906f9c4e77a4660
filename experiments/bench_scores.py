"""The numpy side of experiments/bench-scores.ts: the same score table (argmax, correct, maxprob, margin,
entropy confidence, PABEE patience) from the same arrays, vectorised the way a researcher would write it.

    python3 experiments/bench_scores.py PROBS.npy LABELS.npy [LOGITS.npy] [--repeats 3]

Prints one JSON line: the best-of-repeats seconds for the probabilities path (and the logits path), computed
in the arrays' own dtype (float32), as numpy does by default, and for maxprob + argmax + correct alone.
"""
import json
import sys
import time

import numpy as np


def patience(pred):
    out = np.zeros(pred.shape, dtype=np.float64)
    for k in range(1, pred.shape[1]):
        out[:, k] = np.where(pred[:, k] == pred[:, k - 1], out[:, k - 1] + 1, 0)
    return out


def from_probs(p, y):
    C = p.shape[2]
    pred = p.argmax(axis=2)
    correct = pred == y[:, None]
    top2 = np.partition(p, C - 2, axis=2)[:, :, C - 2 :]
    maxprob = top2[:, :, 1]
    margin = top2[:, :, 1] - top2[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0)
    entropy = np.clip(1 + plogp.sum(axis=2) / np.log(C), 0, 1)
    return pred, correct, maxprob, margin, entropy, patience(pred)


def basic(p, y):
    """Only maxprob, argmax and correctness: the narrower table of issue 16's yardstick."""
    pred = p.argmax(axis=2)
    return p.max(axis=2), pred, pred == y[:, None]


def from_logits(z, y):
    C = z.shape[2]
    pred = z.argmax(axis=2)
    correct = pred == y[:, None]
    top2 = np.partition(z, C - 2, axis=2)[:, :, C - 2 :]
    m = top2[:, :, 1:2]
    d = z - m
    e = np.exp(d)
    s = e.sum(axis=2)
    u = (d * e).sum(axis=2)
    maxprob = 1 / s
    margin = (1 - np.exp(top2[:, :, 0] - top2[:, :, 1])) / s
    entropy = np.clip(1 - (np.log(s) - u / s) / np.log(C), 0, 1)
    return pred, correct, maxprob, margin, entropy, patience(pred)


def best(fn, *args, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    args = [a for a in args if a != str(repeats)]
    p = np.load(args[0])
    y = np.load(args[1])
    out = {"numpy": np.__version__, "shape": list(p.shape), "dtype": str(p.dtype), "probsSeconds": best(from_probs, p, y, repeats=repeats)}
    out["basicSeconds"] = best(basic, p, y, repeats=repeats)
    if len(args) > 2:
        z = np.load(args[2])
        out["logitsSeconds"] = best(from_logits, z, y, repeats=repeats)
    print(json.dumps(out))


main()
