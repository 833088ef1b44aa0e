"""`subseed`: one independent seed per named random stream of a run. A leaf: it imports nothing of the package.

Every random stream of a run (data order, critic and generator noise, interpolation weights,
spectral-norm start vectors, the evaluation batch) is seeded with subseed(seed, name), so matched
runs share every stream but the ones their objective consumes.
"""

from __future__ import annotations

import hashlib


def subseed(seed: int, stream: str) -> int:
    """An independent seed per named random stream, stable across Python versions and machines."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{stream}".encode()).digest()[:8], "big") & (2**63 - 1)


__all__ = ["subseed"]
