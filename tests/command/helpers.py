"""Build control states for domain tests without Redis: events folded in memory."""

from __future__ import annotations

from command.events import Event, Recorded
from command.fold import ControlState


class Log:
    """An in-memory log with a fake clock: append events, fold them, like the real one."""

    def __init__(self) -> None:
        self.state = ControlState()
        self.ms = 1_700_000_000_000
        self.records: list[Recorded] = []

    def add(self, event: Event, actor: str = "tester", advance_ms: int = 1000) -> Recorded:
        self.ms += advance_ms
        rec = Recorded(id=f"{self.ms}-0", event=event, actor=actor, at=self.ms)
        self.records.append(rec)
        self.state.apply(rec)
        return rec
