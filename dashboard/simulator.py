"""Field simulator for the demo: grid workers reporting at N× real time.

The pace follows the published figure — 450,000 tests in 3 days over Pingnan —
shaped by a daily rhythm (sampling stations open early, peak mid-morning and
late afternoon, near silence after midnight). Each tick picks leaf grids still
below target, weighted by how much they lack and by how hard each town and
grid works (fixed per code and seed: some towns race ahead, a few grids lag far
behind, which is what a county's map looks like), never beyond a grid's target
(but a few grids with floating population go a little over), with a few grids
that go quiet for hours (so the stall alert has something to find). Flood and fire operations
get their own, smaller streams of reports. Reports go through the same intake
as the API's (`dashboard.intake.Intake.submit_reports`: validation, exactly-once,
the log), one batch per tick.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from command.access import Actor
from command.operations import COUNTERS, Operation, OperationState
from dashboard.api import Backend
from dashboard.arrivals import ArrivalSimulator
from dashboard.intake import Intake
from streams.county import County

__all__ = ["TESTS_PER_3_DAYS", "FieldSimulator", "rhythm"]


TESTS_PER_3_DAYS = 450_000


def rhythm(hour: float) -> float:
    """Relative sampling rate by local hour (mean ≈ 1 over a day)."""
    morning = math.exp(-((hour - 10.0) ** 2) / 6.0)
    afternoon = 0.8 * math.exp(-((hour - 16.5) ** 2) / 5.0)
    evening = 0.35 * math.exp(-((hour - 20.5) ** 2) / 3.0)
    night = 0.03
    return (morning + afternoon + evening + night) * 2.6


class FieldSimulator:
    """Drives reports into open operations until stopped."""

    def __init__(
        self,
        county: County,
        actor: Actor,
        speed: float = 60.0,
        seed: int = 11,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.county = county
        self.intake = Intake(Backend(county.client, county))
        self.actor = actor
        self.speed = speed
        self.rng = random.Random(seed)
        self.clock = clock
        self.sent = 0
        self._seq = 0
        self.seed = seed
        self._quiet: dict[str, float] = {}
        self._carry: dict[str, float] = {}
        self._sent: dict[str, dict[str, int]] = {}
        self._cum: dict[str, tuple[float, list[str], list[float]]] = {}
        self._vigour: dict[str, float] = {}
        self._caps: dict[str, float] = {}
        self.sim_start = clock()
        self.real_start = clock()
        # secretaries confirming on post, through the same intake
        self.arrivals = ArrivalSimulator(county, speed, seed, clock, self.intake.backend)

    def sim_hour(self) -> float:
        """Simulated local hour of day (Asia/Shanghai), starting at 07:00 on day one."""
        elapsed = (self.clock() - self.real_start) * self.speed
        return (7.0 + elapsed / 3600.0) % 24.0

    def tick(self, dt_real: float) -> int:
        """Send the reports that `dt_real` real seconds are worth; returns reports sent."""
        self.arrivals.tick()
        st = self.county.refresh()
        tree = self.county.tree
        reqs: list[tuple[str, dict[str, object]]] = []
        dt_sim = dt_real * self.speed
        for op in st.operations.values():
            if op.state != OperationState.OPEN:
                continue
            leaves = [g for g in tree.leaves(op.scope)]
            if not leaves:
                continue
            counter = COUNTERS[op.kind][0]
            if op.kind == "mass_testing":
                per_s = TESTS_PER_3_DAYS / (3 * 86400) * rhythm(self.sim_hour())
            else:
                total = sum(op.targets.get(op.scope, {}).values()) or 100
                per_s = total / (2 * 86400)
            want = per_s * dt_sim + self._carry.get(op.id, 0.0)
            n_units = int(want)
            self._carry[op.id] = want - n_units
            sent = self._sent_of(op)
            while n_units > 0:
                grid = self._pick(op, leaves, counter)
                if grid is None:
                    break
                size = min(n_units, self.rng.randint(3, 25) if op.kind == "mass_testing" else self.rng.randint(1, 4))
                target = op.targets.get(grid, {}).get(counter, 0)
                if target:
                    size = min(size, int(target * self._cap(grid)) - sent.get(grid, 0))
                    if size <= 0:
                        self._cum.pop(op.id, None)
                        continue
                sent[grid] = sent.get(grid, 0) + size
                counts = {counter: size}
                if op.kind == "fire_hazard_check":
                    if self.rng.random() < 0.15:
                        counts["hazards_found"] = 1
                        counts["hazards_eliminated"] = 1 if self.rng.random() < 0.8 else 0
                    counts["people_persuaded"] = self.rng.randint(0, 12)
                if op.kind == "flood_evacuation":
                    counts = {"hazard_points_checked": 1 if self.rng.random() < 0.3 else 0,
                              "people_evacuated": size}
                counts = {c: n for c, n in counts.items() if n}
                self._seq += 1
                rid = f"sim-{self.rng.getrandbits(40):x}-{self._seq}"
                reqs.append((op.id, {"report_id": rid, "grid": grid, "counts": counts}))
                n_units -= size
        if reqs:
            self.intake.submit_reports(self.actor, reqs)
            self.sent += len(reqs)
        return len(reqs)

    def _sent_of(self, op: Operation) -> dict[str, int]:
        """What each leaf has had so far: read once from the read model (a restarted demo resumes)."""
        sent = self._sent.get(op.id)
        if sent is None:
            sent = {}
            counter = COUNTERS[op.kind][0]
            tree = self.county.tree
            towns = {tree.town_of(g) or g for g in tree.leaves(op.scope)}
            for town in towns:
                for g, cell in self.county.progress.town_totals(op.id, town).items():
                    if g in tree and not tree.children[g]:
                        sent[g] = cell.get(counter, 0)
            self._sent[op.id] = sent
        return sent

    def vigour(self, code: str) -> float:
        """How hard a town or grid works, fixed by its code: most near 1, some twice as fast, a few lagging."""
        v = self._vigour.get(code)
        if v is None:
            rng = random.Random(f"{self.seed}:{code}")
            x = rng.random()
            v = 0.06 if x < 0.04 else 0.35 + 1.4 * rng.random() ** 1.3
            self._vigour[code] = v
        return v

    def _cap(self, grid: str) -> float:
        """Share of its target a grid may reach: 1, or a little more where floating population lives."""
        cap = self._caps.get(grid)
        if cap is None:
            cap = self._caps[grid] = 1.04 if random.Random(f"{self.seed}:cap:{grid}").random() < 0.03 else 1.0
        return cap

    def _pick(self, op: Operation, leaves: list[str], counter: str) -> str | None:
        now = self.clock()
        cached = self._cum.get(op.id)
        if cached is None or now - cached[0] > 2.0:
            sent = self._sent_of(op)
            tree = self.county.tree
            cum: list[float] = []
            acc = 0.0
            for g in leaves:
                target = op.targets.get(g, {}).get(counter, 0)
                done = sent.get(g, 0)
                if target and done >= target * self._cap(g):
                    w = 0.0
                else:
                    left = 1.0 - done / target if target else 1.0
                    w = self.vigour(tree.town_of(g) or g) * self.vigour(g) * (0.15 + max(0.0, left))
                acc += w
                cum.append(acc)
            cached = self._cum[op.id] = (now, leaves, cum)
        _, pool, cum = cached
        if not cum or cum[-1] <= 0:
            return None
        for _ in range(8):
            g = self.rng.choices(pool, cum_weights=cum)[0]
            quiet_until = self._quiet.get(g, 0.0)
            if quiet_until > now:
                continue
            if self.rng.random() < 0.002:
                self._quiet[g] = now + self.rng.uniform(600, 3600) / max(self.speed / 60, 1)
                continue
            return g
        return None

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Tick every `interval` real seconds until `stop` is set."""
        last = self.clock()
        while not stop.is_set():
            stop.wait(interval)
            now = self.clock()
            try:
                self.tick(now - last)
            except Exception:  # a demo simulator keeps going through hiccups
                time.sleep(1)
            last = now
