"""How many inputs the fuzzers try: the CI default, times $WARTIME_FUZZ_SCALE (e.g. 20 for a soak)."""

from __future__ import annotations

import os


def examples(n: int) -> int:
    """`n` examples scaled by WARTIME_FUZZ_SCALE (a float; default 1)."""
    try:
        scale = float(os.environ.get("WARTIME_FUZZ_SCALE", "1"))
    except ValueError:
        scale = 1.0
    return max(1, int(n * scale))
