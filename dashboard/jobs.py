"""The scheduler of `wartime serve`: alert rounds, the 08:00 daily briefing, contact rounds, history.

APScheduler (3.x) fires these jobs:

* ``alerts`` — every `ALERT_EVERY_S` seconds, one alert round (`streams.alerting`);
* ``briefing`` — daily at 08:00 Asia/Shanghai, the briefing of every open operation;
* ``contact`` — daily at 08:05 Asia/Shanghai, this quarter's contact-round
  reminders still owed to first small-grid leaders in peacetime;
* ``matters`` — every minute, one alert per overdue residents' matter;
* ``history`` — every `HISTORY_EVERY_S` seconds, the report index and the
  time-travel snapshots brought up to the log (`streams.history`), so that a
  review folds at most that much tail. It runs here rather than in a web
  worker: a round folds every report since the last one, and a worker doing it
  held its event loop up (bench/RESULTS.md, issue 13).

Once per cluster. Every server process may run a scheduler; each run is named
by its *slot* — the scheduled fire time it stands for (the previous fire time of
the job's trigger at or before now; for the interval job, now rounded down to
the interval). A run takes a Redis lock (``SET NX PX`` with a random token,
released by a compare-and-delete script), then reads the job's last completed
slot: a slot already done is skipped. So two workers that both fire at 08:00
issue one briefing. The events themselves carry idempotency keys as well, so
even a run that dies between its append and its bookkeeping repeats nothing.

Restart. On start `catch_up` runs every cron job whose last slot is not done
yet (the server was down at 08:00): a missed run happens once, late, under
the date it stands for; APScheduler's `coalesce` and `misfire_grace_time`
cover a scheduler that was merely busy. Completed slots are also kept in a
short list per job (``…:jobs:runs:JOB``), which tests and operators read.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from command.alerts import AlertConfig
from command.localtime import LOCAL
from dashboard.components.map import prepare_wall
from streams.alerting import AlertEvaluator, issue_briefings, issue_contact_reminders
from streams.county import County, now_ms
from streams.history import history_for
from streams.keys import CountyKeys
from streams.locks import RedisLock
from streams.readmodel import current_county
from streams.server import Client

__all__ = [
    "ALERT_EVERY_S",
    "HISTORY_EVERY_S",
    "RUNS_KEPT",
    "JobSpec",
    "Jobs",
    "background",
    "job_lock",
    "jobs_key",
    "previous_fire",
    "run_scheduler",
    "runs_key",
]


log = logging.getLogger(__name__)

ALERT_EVERY_S = int(os.environ.get("WARTIME_ALERT_EVERY_S", "5"))
HISTORY_EVERY_S = 20
RUNS_KEPT = 500



def jobs_key(county: str) -> str:
    """Hash job → last completed slot (epoch ms), on the county's shard."""
    return CountyKeys(county).jobs_last


def runs_key(county: str, job: str) -> str:
    """List of the latest completed runs of a job: ``slot worker``."""
    return CountyKeys(county).job_runs(job)


def job_lock(client: Client, county: str) -> RedisLock:
    """The locks of a county's jobs (one run per slot across the cluster)."""
    return RedisLock(client, CountyKeys(county).lock_prefix)


def previous_fire(trigger: Any, now: datetime, lookback: timedelta = timedelta(days=2)) -> datetime | None:
    """The latest fire time of an APScheduler trigger at or before `now` (within `lookback`)."""
    prev = None
    t = trigger.get_next_fire_time(None, now - lookback)
    while t is not None and t <= now:
        prev = t
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return prev


@dataclass(frozen=True)
class JobSpec:
    """A job: its trigger (None: every `every_s` seconds), its work, its lock's lifetime, its lane.

    Jobs of one lane run one at a time in a process (those of ``county`` share its `County`);
    a job in a lane of its own, like a long history round, holds no alert round up.
    """

    name: str
    trigger: Any
    every_s: int
    lock_ms: int
    work: Callable[[County, int, int], object]
    lane: str = "county"


def _briefing(county: County, now: int, slot: int) -> object:
    return issue_briefings(county, now, slot)


def _contact(county: County, now: int, slot: int) -> object:
    return issue_contact_reminders(county, now)


def _matters(county: County, now: int, slot: int) -> object:
    from streams.matters import issue_overdue_alerts

    return issue_overdue_alerts(county, now)


def _history(county: County, now: int, slot: int) -> object:
    history_for(county.client, county.code).advance()
    return None


class Jobs:
    """The scheduler's jobs over one Redis, runnable by APScheduler or directly with a clock."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Callable[[], int] = now_ms,
        config: AlertConfig | None = None,
        alert_every_s: int = ALERT_EVERY_S,
        worker: str | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.config = config
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self._county: County | None = None
        self._evaluator: AlertEvaluator | None = None
        self._mutex = threading.Lock()
        self._lanes: dict[str, threading.Lock] = {}
        self.specs: dict[str, JobSpec] = {
            # A lease a few slots long: a worker that dies mid-round holds the cluster up briefly.
            "alerts": JobSpec("alerts", None, alert_every_s, max(10_000, 3000 * alert_every_s), self._alerts),
            "briefing": JobSpec(
                "briefing", CronTrigger(hour=8, minute=0, timezone=LOCAL), 0, 300_000, _briefing
            ),
            "contact": JobSpec("contact", CronTrigger(hour=8, minute=5, timezone=LOCAL), 0, 300_000, _contact),
            # Overdue residents' matters (peacetime): one alert per matter, cleared when handled.
            "matters": JobSpec("matters", None, 60, 60_000, _matters),
            "history": JobSpec("history", None, HISTORY_EVERY_S, 3000 * HISTORY_EVERY_S, _history, lane="history"),
        }

    # -- plumbing --------------------------------------------------------------------

    def county(self) -> County | None:
        """The county of this Redis (None before any registry), kept between runs."""
        code = current_county(self.client)
        if code is None:
            return None
        if self._county is None or self._county.code != code:
            self._county = County(self.client, code, self.clock)
            self._evaluator = AlertEvaluator(self._county, self.config)
        return self._county

    def _alerts(self, county: County, now: int, slot: int) -> object:
        assert self._evaluator is not None
        return self._evaluator.run(now)

    def slot(self, name: str, now: int) -> int | None:
        """The scheduled instant (epoch ms) a run at `now` stands for; None before the first."""
        spec = self.specs[name]
        if spec.trigger is None:
            step = spec.every_s * 1000
            return now - now % step
        fired = previous_fire(spec.trigger, datetime.fromtimestamp(now / 1000, tz=LOCAL))
        return None if fired is None else int(fired.timestamp() * 1000)

    def last_done(self, name: str) -> int | None:
        """Slot of the job's last completed run."""
        county = current_county(self.client)
        if county is None:
            return None
        v = self.client.hget(jobs_key(county), name)
        return int(v) if v is not None else None

    def runs(self, name: str) -> list[tuple[int, str]]:
        """Completed runs (slot, worker), newest first."""
        county = current_county(self.client)
        if county is None:
            return []
        out = []
        for raw in self.client.lrange(runs_key(county, name), 0, -1):
            slot, _, worker = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")
            out.append((int(slot), worker))
        return out

    # -- one run ---------------------------------------------------------------------

    def run(self, name: str, now: int | None = None) -> bool:
        """Run a job for the slot `now` falls in, unless that slot was done already; True if it ran."""
        spec = self.specs[name]
        with self._mutex:
            lane = self._lanes.setdefault(spec.lane, threading.Lock())
        with lane:
            t = self.clock() if now is None else now
            slot = self.slot(name, t)
            with self._mutex:
                county = self.county()
            if slot is None or county is None:
                return False
            lock = job_lock(self.client, county.code)
            token = lock.acquire(name, spec.lock_ms)
            if token is None:
                return False
            try:
                done = self.client.hget(jobs_key(county.code), name)
                if done is not None and int(done) >= slot:
                    return False
                spec.work(county, t, slot)
                pipe = self.client.pipeline(transaction=True)
                pipe.hset(jobs_key(county.code), name, slot)
                pipe.lpush(runs_key(county.code, name), f"{slot} {self.worker}")
                pipe.ltrim(runs_key(county.code, name), 0, RUNS_KEPT - 1)
                pipe.execute()
                return True
            finally:
                lock.release(name, token)

    def safe_run(self, name: str) -> None:
        """What APScheduler calls: a failed run is logged and retried at the next slot."""
        try:
            self.run(name)
        except Exception:
            log.exception("job %s failed", name)

    def catch_up(self, now: int | None = None) -> list[str]:
        """Run every cron job whose latest slot is not done (the server was down then)."""
        ran = []
        for name, spec in self.specs.items():
            if spec.trigger is not None and self.run(name, now):
                ran.append(name)
        return ran

    # -- APScheduler -----------------------------------------------------------------

    def schedule(self, scheduler: BaseScheduler) -> None:
        """Add the jobs to an APScheduler scheduler (blocking in `serve`, background in tests)."""
        for name, spec in self.specs.items():
            if spec.trigger is None:
                scheduler.add_job(
                    self.safe_run, "interval", args=[name], seconds=spec.every_s, id=name,
                    max_instances=1, coalesce=True, misfire_grace_time=spec.every_s, replace_existing=True,
                )
            else:
                scheduler.add_job(
                    self.safe_run, spec.trigger, args=[name], id=name,
                    max_instances=1, coalesce=True, misfire_grace_time=3600, replace_existing=True,
                )


def background(jobs: Jobs) -> BackgroundScheduler:
    """A started background scheduler running `jobs` (tests, embedding)."""
    sched = BackgroundScheduler(timezone=LOCAL)
    jobs.schedule(sched)
    sched.start()
    return sched


def _prepare_wall(jobs: Jobs) -> None:
    """The county's wall map made at start, if its import did not make it (an older registry)."""
    try:
        code = current_county(jobs.client)
        if code and prepare_wall(County(jobs.client, code)):
            log.info("the wall's map of %s is ready", code)
    except Exception:
        log.exception("could not prepare the wall's map; the first wall will make it")


def run_scheduler(redis_url: str) -> None:
    """The scheduler process of `wartime serve`: catch up, then fire the jobs until killed."""
    from streams.server import connect

    client = connect(redis_url)
    jobs = Jobs(client)
    threading.Thread(target=_prepare_wall, args=(jobs,), name="prepare-wall", daemon=True).start()
    try:
        ran = jobs.catch_up()
        if ran:
            log.info("caught up missed runs: %s", ", ".join(ran))
    except Exception:
        log.exception("catch-up failed; the jobs will run at their next slots")
    sched = BlockingScheduler(timezone=LOCAL)
    jobs.schedule(sched)
    log.info("scheduler %s: alerts every %d s, history every %d s, briefing 08:00, contact rounds 08:05 "
             "(Asia/Shanghai)", jobs.worker, jobs.specs["alerts"].every_s, jobs.specs["history"].every_s)
    sched.start()
