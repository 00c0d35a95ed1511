"""A served process's long-lived heap, kept out of the cyclic collector's way.

A web worker, the projector and the live hub each hold a heap that lives as long
as the process: the registry's tree, the geometry index, the decoded control
stream, Dash's layout. CPython's full (generation 2) collection walks all of it
whenever enough objects have survived the younger generations, which under load
is every few thousand requests. Measured in a gunicorn worker serving Pingnan at
1,800 reports/s: a full pass took 105–218 ms, every 2.6–4.6 s, and found
almost nothing to free. Each such pass stopped the worker's event loop, and every
report in flight on it waited: that was the whole p99 tail of the report route
(bench/RESULTS.md, issue 13).

`gc.freeze()` moves every object alive at that moment into a permanent generation
that no collection walks; refcounting still frees them. So after a full pass that
was slow (`SLOW_MS`), what it walked is alive and, being old, long-lived: freeze
it. The passes after that walk only what came later (about 1 ms here).

What freezing costs: a cycle among frozen objects that later becomes garbage is
not collected while frozen. So a later slow pass — the heap grew again, say a new
registry was loaded beside the old one — does not freeze on top: it unfreezes, and
the next full pass walks everything, collects what the frozen heap left behind and,
being slow, freezes again. A process pays two slow passes per growth of its heap,
not one every few seconds.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

__all__ = ["SLOW_MS", "freeze_long_lived", "installed"]


SLOW_MS = 20.0
"""A full pass at least this long walked a heap worth freezing (a frozen worker's pass takes ~1 ms)."""

_LOCK = threading.Lock()
_STATE: dict[str, float] = {}


def _on_collect(phase: str, info: dict[str, Any]) -> None:
    """The collector's callback: time each full pass; after a slow one, freeze or unfreeze."""
    if info.get("generation") != 2:
        return
    if phase == "start":
        _STATE["started"] = time.perf_counter()
        return
    started = _STATE.pop("started", None)
    if started is None or (time.perf_counter() - started) * 1000 < SLOW_MS:
        return
    if gc.get_freeze_count():
        gc.unfreeze()  # the next full pass collects what was frozen and is now garbage, then freezes
    else:
        gc.freeze()


def freeze_long_lived() -> None:
    """Install the policy in this process (once; a served process calls it at start)."""
    with _LOCK:
        if _on_collect not in gc.callbacks:
            gc.callbacks.append(_on_collect)


def installed() -> bool:
    """Whether this process runs the policy."""
    return _on_collect in gc.callbacks
