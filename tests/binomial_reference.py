"""Test room: exact reference values for console/engine/binomial.py, computed independently with scipy.

The table (tests/binomial_reference.json) is committed so the tests need no scipy; regenerate it with

    python -m tests.binomial_reference > tests/binomial_reference.json

(scipy is in the ``mutation`` extra). Tails are scipy.stats.binom's cdf/sf (incomplete beta, accurate in
the far tails); Wilson bounds are scipy's two-sided ``wilsoncc`` interval at level 2c − 1, whose ends are
the one-sided bounds at confidence c; z is scipy.stats.norm.ppf.
"""

from __future__ import annotations

import json
from pathlib import Path

TABLE = Path(__file__).with_name("binomial_reference.json")

# (k, n, p): both sides of each tail's branch (k vs n·p), tiny tails, large windows, certain edges
TAIL_CASES = [
    (1, 1, 0.5), (5, 10, 0.5), (7, 7, 0.5), (3, 50, 0.01), (20, 20, 0.01), (2, 40, 0.01), (5, 50, 0.02),
    (0, 299, 0.01), (1, 300, 0.005), (2, 300, 0.005), (15, 3000, 0.01), (25, 3000, 0.01), (30, 3000, 0.01),
    (40, 3000, 0.01), (60, 1000, 0.03), (100, 200, 0.6), (150, 200, 0.6), (1500, 300000, 0.005),
    (1700, 300000, 0.005), (1, 3000, 0.9), (2000, 3000, 0.01), (2990, 3000, 0.999), (9, 10, 0.97),
]
# (k, n, one-sided confidence)
WILSON_CASES = [
    (135, 27000, 0.975), (135, 27000, 0.995), (0, 27000, 0.975), (1, 10, 0.9), (50, 100, 0.99), (3, 450, 0.995),
    (1, 2, 0.6), (2, 3, 0.99997), (0, 100, 0.95), (5, 5, 0.95), (99, 100, 0.95), (1, 1, 0.8), (7, 50, 0.75),
]
Z_CASES = [0.5, 0.8, 0.95, 0.975, 0.99, 0.995]


def compute() -> dict[str, list]:
    from scipy.stats import binom, binomtest, norm

    tails = [{"k": k, "n": n, "p": p, "upper": float(binom.sf(k - 1, n, p)), "lower": float(binom.cdf(k, n, p))}
             for k, n, p in TAIL_CASES]
    wilson = []
    for k, n, confidence in WILSON_CASES:
        interval = binomtest(k, n).proportion_ci(2 * confidence - 1, method="wilsoncc")
        wilson.append({"k": k, "n": n, "confidence": confidence, "low": float(interval.low),
                       "high": float(interval.high)})
    z = [{"confidence": c, "z": float(norm.ppf(c))} for c in Z_CASES]
    return {"tails": tails, "wilson": wilson, "z": z}


def load() -> dict[str, list]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    print(json.dumps(compute(), indent=1))
