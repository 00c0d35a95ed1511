"""Counts of what the hostile suites tried, for the closing report (tests/artifacts/hostile-tally.json)."""

from __future__ import annotations

import atexit
import json
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "artifacts" / "hostile-tally.json"
_TALLIES: dict[str, Counter[str]] = {}


class Tally:
    """A named counter of attempts: `add(what)` per attack or fuzzed input."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def tally(name: str) -> Tally:
    """The counter of one suite (created on first use, written when the test run ends)."""
    return Tally(_TALLIES.setdefault(name, Counter()))


@atexit.register
def _write() -> None:
    if not any(_TALLIES.values()):
        return
    OUT.parent.mkdir(exist_ok=True)
    try:
        doc = json.loads(OUT.read_text())
    except (OSError, ValueError):
        doc = {}
    for name, counts in _TALLIES.items():
        if counts:
            doc[name] = {"total": sum(counts.values()), "by_kind": dict(sorted(counts.items()))}
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True))
