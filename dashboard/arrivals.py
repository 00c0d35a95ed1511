"""The demo's secretaries arriving in their grids: acknowledged, then on post, over the first minutes.

Each installed secretary gets a delay fixed by grid and seed (minutes of simulated
time: most within half an hour, a long tail, a few who never confirm, so the
console's not-on-post list has names in it). At N× real time a secretary whose
delay has passed opens the order and confirms through the same intake and
commands as the field page's API calls (`dashboard.api_mobilisation`, by
`dashboard.intake.Intake.submit`), under the grid's own leader identity.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from command.access import Actor, Role
from command.errors import Unavailable
from dashboard import api_mobilisation
from dashboard.api import Backend
from dashboard.intake import Answer, Intake
from streams.county import County

NEVER = 0.03
"""Share of secretaries who never confirm in the demo."""


class ArrivalSimulator:
    """Confirms secretaries on post as simulated time passes (see the module doc)."""

    def __init__(self, county: County, speed: float = 60.0, seed: int = 11,
                 clock: Callable[[], float] = time.time, backend: Backend | None = None) -> None:
        self.county = county
        self.intake = Intake(backend or Backend(county.client, county), [api_mobilisation.ROUTES])
        self.speed = speed
        self.seed = seed
        self.clock = clock
        self.confirmed = 0
        self._delay: dict[tuple[str, int], float | None] = {}

    def delay_min(self, grid: str, since: int) -> float | None:
        """Simulated minutes from installation to arrival (None: never confirms)."""
        key = (grid, since)
        if key not in self._delay:
            rng = random.Random(f"{self.seed}:arrive:{grid}:{since}")
            self._delay[key] = None if rng.random() < NEVER else rng.lognormvariate(2.6, 0.6)
        return self._delay[key]

    def tick(self) -> int:
        """Acknowledge and confirm everyone whose time has come; returns how many confirmed."""
        st = self.county.refresh()
        now_ms = self.clock() * 1000
        done = 0
        for grid, post in sorted(st.mobilisation.posts.items()):
            if post.on_post_at is not None:
                continue
            delay = self.delay_min(grid, post.installed_at)
            if delay is None:
                continue
            waited = (now_ms - post.installed_at) / 60_000 * self.speed
            me = Actor(f"sim:{grid}", Role.LEADER, grid)
            at = {"grid": grid}
            opens = post.acknowledged_at is None and waited >= delay * 0.3
            if opens and _refused(self.intake.submit(me, "acknowledged", {}, params=at)):
                continue  # stood down or replaced meanwhile
            if waited >= delay:
                report = {"report_id": f"sim-onpost-{grid}-{post.installed_at}"}
                if _refused(self.intake.submit(me, "on_post", report, params=at)):
                    continue
                done += 1
        self.confirmed += done
        return done


def _refused(answer: Answer) -> bool:
    """Whether the command was refused (4xx); storage failing (5xx) stops the tick."""
    if answer.status >= 500:
        raise Unavailable(str(answer.body.get("error", {}).get("message", "storage failed")))
    return answer.status >= 400
