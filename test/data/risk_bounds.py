"""Reference values for test/risk.test.ts, computed once with SciPy (python3-scipy 1.17) and pasted into the test.

Run: python3 test/data/risk_bounds.py
- binom.cdf(k, n, p): SciPy's binomial CDF (regularised incomplete beta), independent of our log-space sum.
- Hoeffding-Bentkus p-value (Bates et al. 2021, Prop. 3): min(exp(-n h(min(r, a), a)), e * binom.cdf(ceil(n r), n, a)).
- HB upper confidence bound: brentq on p(a) = delta.
- WSR capital (Waudby-Smith & Ramdas 2023, predictable plug-in, bets capped at 1/2) on a fixed short sequence.
"""
import math
import numpy as np
from scipy.stats import binom
from scipy.optimize import brentq

def h(a, b):
    t1 = 0.0 if a == 0 else a * math.log(a / b)
    t2 = 0.0 if a == 1 else (1 - a) * math.log((1 - a) / (1 - b))
    return t1 + t2

def hb(r, n, a):
    return min(1.0, math.exp(-n * h(min(r, a), a)), math.e * binom.cdf(math.ceil(n * r - 1e-9), n, a))

print("binom.cdf")
for k, n, p in [(0, 10, 0.1), (3, 10, 0.3), (50, 200, 0.3), (120, 2500, 0.06), (2400, 5000, 0.5), (10, 5000, 0.001), (4990, 5000, 0.999)]:
    print(f"  [{k}, {n}, {p}, {float(binom.cdf(k, n, p))!r}],")
print("hb p-value")
for r, n, a in [(0.05, 100, 0.1), (0.0, 50, 0.05), (0.2, 2500, 0.22), (0.31, 5000, 0.3), (0.1, 1000, 0.13), (0.4, 30, 0.6)]:
    print(f"  [{r}, {n}, {a}, {float(hb(r, n, a))!r}],")
print("hb ucb")
for r, n, d in [(0.05, 100, 0.1), (0.2, 2500, 0.05), (0.0, 500, 0.1)]:
    print(f"  [{r}, {n}, {d}, {brentq(lambda a: hb(r, n, a) - d, max(r, 1e-12) + 1e-12, 1 - 1e-12, xtol=1e-13)!r}],")

def wsr_log_max_capital(x, m, delta):
    n = len(x)
    log, best, s, ss, var = 0.0, 0.0, 0.0, 0.25, 0.25
    for i, xi in enumerate(x):
        lam = min(math.sqrt(2 * math.log(1 / delta) / (n * var)), 0.5)
        log += math.log(1 - lam * (xi - m))
        best = max(best, log)
        s += xi
        mu = (0.5 + s) / (i + 2)
        ss += (xi - mu) ** 2
        var = ss / (i + 2)
    return best

x = [0.1, 0.0, 0.3, 0.05, 0.2, 0.0, 0.1, 0.4, 0.0, 0.15] * 5
print("wsr p-values on x (50 losses), delta 0.1")
for m in [0.15, 0.25, 0.4]:
    print(f"  [{m}, {min(1.0, math.exp(-wsr_log_max_capital(x, m, 0.1)))!r}],")
print("wsr ucb", brentq(lambda m: wsr_log_max_capital(x, m, 0.1) - math.log(10), 1e-9, 1 - 1e-9, xtol=1e-13))
