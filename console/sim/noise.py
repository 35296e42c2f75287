"""The simulated world's randomness room: counter-based, hash-free-of-PYTHONHASHSEED noise.

Every random number the world uses is a pure function of (seed, what it is for, which second, which draw),
so the same seed and the same clock times give the same numbers whatever order things are asked in.
"""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_NORMAL = NormalDist()
_UNIT = 1.0 / (1 << 53)


def stream_key(*parts: object) -> int:
    """A stable 64-bit key for a named stream of noise, e.g. stream_key(seed, "perception", "canary")."""
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def unit(key: int, counter: int) -> float:
    """The counter-th uniform number in [0, 1) of the stream ``key`` (SplitMix64)."""
    z = (key + counter * GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return ((z ^ (z >> 31)) >> 11) * _UNIT


def gauss(u: float) -> float:
    """The standard normal value whose CDF is ``u`` (u clamped away from 0 and 1)."""
    return _NORMAL.inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))


def poisson(lam: float, u: float) -> int:
    """A Poisson(lam) count from one uniform: exact inverse CDF for small means, normal beyond."""
    if lam <= 0.0:
        return 0
    if lam > 15.0:
        return max(0, int(lam + math.sqrt(lam) * gauss(u) + 0.5))
    k = 0
    p = math.exp(-lam)
    cdf = p
    while u > cdf and k < 200:
        k += 1
        p *= lam / k
        cdf += p
    return k
