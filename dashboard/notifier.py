"""The delivery worker of `wartime serve`: every notification (通知) sent at least once, by its stable id.

What to send is the log: a `NotificationQueued` event without an outcome is
pending (`command.mobilisation`). A round takes the county's ``notify`` job
lock (`dashboard.jobs.job_lock`, so one worker per cluster sends), picks the
pending notifications whose back-off has passed, counts the attempt in
``wt:{C}:notify:tries`` *before* sending (a worker killed mid-send has used the
attempt and waits its back-off), sends them side by side, and appends what
happened: `NotificationDelivered` on a 2xx, `NotificationFailed` and a
``notification_failed`` alert once the attempts are spent. Outcome events carry
idempotency keys, so two outcomes of one notification never enter the log.

Delivery is at least once: a worker killed between a send and its record sends
again after restart, with the same id — in the body, in the text and in the
header ``X-Wartime-Notification-Id`` — so a receiver can drop the repeat.

Channel: ``WARTIME_NOTIFY_URL`` (HTTP POST) in ``WARTIME_NOTIFY_FORMAT`` =
``generic`` (JSON ``{id, kind, grid, person, phone, text, link}``), ``wecom``
(企业微信 group robot: ``msgtype: text``, the phone in
``text.mentioned_mobile_list``) or ``dingtalk`` (钉钉 robot: the phone in
``at.atMobiles``). Without a URL, notifications reach the field page only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from command import mobilisation as mob
from command.access import Actor, Role
from command.drills import BANNER
from command.errors import DeliveryFailed
from command.events import AlertCleared, AlertRaised, Event, NotificationFailed
from command.grids import GridTree
from command.mobilisation import Notification, NotificationKind
from dashboard.i18n import register, t
from dashboard.jobs import job_lock
from streams.county import County, now_ms
from streams.keys import current_world
from streams.readmodel import current_county
from streams.server import Client, connect

log = logging.getLogger(__name__)

ENV_URL = "WARTIME_NOTIFY_URL"
ENV_FORMAT = "WARTIME_NOTIFY_FORMAT"
ENV_PUBLIC_URL = "WARTIME_PUBLIC_URL"
ENV_ATTEMPTS = "WARTIME_NOTIFY_ATTEMPTS"
ENV_BACKOFF_MS = "WARTIME_NOTIFY_BACKOFF_MS"
FORMATS = ("generic", "wecom", "dingtalk")
HEADER = "X-Wartime-Notification-Id"
CHANNEL = "http"
ACTOR = Actor("notifier", Role.COMMANDER, "")
LOCK = "notify"
LOCK_MS = 15_000
TIMEOUT_S = 4.0
BATCH = 64
"""Notifications sent per round at most: a round stays well inside its lock's lifetime."""
MAX_BACKOFF_MS = 60_000

register({
    "notify.installed": (
        "【战时通知】{person}同志：{scope}已转入战时（{incident}，{level}）。您已被任命为{grid}临时党支部书记，"
        "请立即到岗，并在手机上点“我已到岗”。{link} 〔{id}〕",
        "[Wartime] {person}: {scope} is in wartime ({incident}, {level}). You are the temporary branch secretary "
        "of {grid}: go to your grid now and press 'I am on post'. {link} [{id}]",
    ),
    "notify.acting": (
        "【战时通知】{person}同志：您已被任命为{grid}代理书记（{incident}，{level}），请立即到岗，"
        "并在手机上点“我已到岗”。{link} 〔{id}〕",
        "[Wartime] {person}: you are appointed acting secretary of {grid} ({incident}, {level}). Go to your grid "
        "now and press 'I am on post'. {link} [{id}]",
    ),
    "notify.renotify": (
        "【再次通知】{person}同志：请立即到{grid}到岗，并在手机上点“我已到岗”。{link} 〔{id}〕",
        "[Reminder] {person}: go to {grid} now and press 'I am on post'. {link} [{id}]",
    ),
    "notify.stand_down": (
        "【解除战时】{person}同志：{grid}已解除战时状态，感谢您的坚守。〔{id}〕",
        "[Stand down] {person}: {grid} is back in peacetime. Thank you. [{id}]",
    ),
})


@dataclass(frozen=True, slots=True)
class Message:
    """One notification as a channel sends it (the phone comes from the personal-data hash)."""

    id: str
    kind: str
    grid: str
    person: str
    phone: str | None
    text: str
    link: str


def compose(n: Notification, tree: GridTree, phone: str | None, base_url: str = "") -> Message:
    """The message of a notification, in Chinese (the county's language), with the id in the text."""
    link = f"{base_url.rstrip('/')}/field?order={n.grid}"
    grid_name = tree[n.grid].name if n.grid in tree else n.grid
    town = tree.town_of(n.grid) if n.grid in tree else None
    scope = tree[town].name if town else grid_name
    text = t(f"notify.{n.kind}" if n.kind in set(NotificationKind) else "notify.renotify", "zh-CN",
             person=n.person, grid=grid_name, scope=scope, incident=t(n.incident or "other", "zh-CN"),
             level=t(f"level.{n.level or 'IV'}", "zh-CN"), link=link, id=n.id)
    drill = current_world()
    if drill:  # a notification of a drill's world says so before anything else (DESIGN §7.4)
        link = f"{link}&drill={drill}"
        text = f"【{BANNER}】" + text.replace(f"/field?order={n.grid}", f"/field?order={n.grid}&drill={drill}")
    return Message(n.id, n.kind, n.grid, n.person, phone, text, link)


def request_body(fmt: str, msg: Message) -> dict[str, Any]:
    """The JSON a channel format takes: generic, or a WeCom / DingTalk group robot's text message."""
    mobiles = [msg.phone] if msg.phone else []
    if fmt == "wecom":
        return {"msgtype": "text", "text": {"content": msg.text, "mentioned_mobile_list": mobiles}}
    if fmt == "dingtalk":
        return {"msgtype": "text", "text": {"content": msg.text}, "at": {"atMobiles": mobiles, "isAtAll": False}}
    return {"id": msg.id, "kind": msg.kind, "grid": msg.grid, "person": msg.person, "phone": msg.phone,
            "text": msg.text, "link": msg.link}


class HttpChannel:
    """POST to one URL in one format; anything but a 2xx (and a robot's errcode 0) is a failure."""

    name = CHANNEL

    def __init__(self, url: str, fmt: str = "generic", timeout_s: float = TIMEOUT_S) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"{ENV_FORMAT} must be one of {', '.join(FORMATS)} (got {fmt!r})")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{ENV_URL} must be an http(s) URL")
        self.url, self.fmt, self.timeout_s = url, fmt, timeout_s

    def send(self, msg: Message) -> None:
        data = json.dumps(request_body(self.fmt, msg), ensure_ascii=False).encode()
        req = urllib.request.Request(self.url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", HEADER: msg.id})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if self.fmt != "generic":
            try:
                answer = json.loads(raw or b"{}")
            except ValueError:
                answer = {}
            code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
            if code not in (0, "0", None):
                raise DeliveryFailed(f"errcode {code}: {str(answer.get('errmsg', ''))[:100]}")


def channel_from_env(env: dict[str, str] | None = None) -> HttpChannel | None:
    """The HTTP channel `wartime serve` is configured with, or None (field page only)."""
    e = os.environ if env is None else env
    url = e.get(ENV_URL, "").strip()
    if not url:
        return None
    return HttpChannel(url, e.get(ENV_FORMAT, "generic").strip() or "generic")


def backoff_ms(attempt: int, base_ms: int) -> int:
    """Wait after the n-th failed attempt: base, 2×, 4× … up to a minute."""
    return int(min(base_ms * 2 ** max(0, attempt - 1), MAX_BACKOFF_MS))


class Notifier:
    """Rounds of delivery over the county of a Redis (see the module doc)."""

    def __init__(
        self,
        client: Client,
        channel: Any,
        *,
        attempts: int | None = None,
        backoff_base_ms: int | None = None,
        concurrency: int = 16,
        clock: Callable[[], int] = now_ms,
        base_url: str | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.attempts = max(1, attempts or int(os.environ.get(ENV_ATTEMPTS, "8")))
        self.backoff_base_ms = max(10, backoff_base_ms or int(os.environ.get(ENV_BACKOFF_MS, "1000")))
        self.concurrency = concurrency
        self.clock = clock
        self.base_url = os.environ.get(ENV_PUBLIC_URL, "") if base_url is None else base_url
        self._county: County | None = None
        self.sent = 0

    def county(self) -> County | None:
        code = current_county(self.client)
        if code is None:
            return None
        if self._county is None or self._county.code != code:
            self._county = County(self.client, code, self.clock)
        return self._county

    def _tries(self, county: County) -> dict[str, tuple[int, int]]:
        out = {}
        for k, v in self.client.hgetall(county.keys.notify_tries).items():
            a, _, nxt = (v.decode() if isinstance(v, bytes) else v).partition(" ")
            out[k.decode() if isinstance(k, bytes) else k] = (int(a), int(nxt or 0))
        return out

    def due(self, county: County) -> tuple[list[tuple[Notification, int]], int | None]:
        """Pending notifications whose back-off has passed (with their attempt number), and the next wait."""
        county.refresh()
        tries = self._tries(county)
        now = self.clock()
        ready: list[tuple[Notification, int]] = []
        wake: int | None = None
        for n in county.state.mobilisation.pending():
            done, nxt = tries.get(n.id, (0, 0))
            if nxt <= now:
                ready.append((n, done + 1))
            else:
                wake = nxt if wake is None else min(wake, nxt)
        return ready[:BATCH], wake

    def round(self) -> int | None:
        """One round under the job lock: how many sends were attempted (None: another worker holds it)."""
        county = self.county()
        if county is None:
            return None
        lock = job_lock(self.client, county.code)
        token = lock.acquire(LOCK, LOCK_MS)
        if token is None:
            return None
        try:
            ready, _ = self.due(county)
            if ready:
                self._send(county, ready)
            self._clear_alerts(county)
            return len(ready)
        finally:
            lock.release(LOCK, token)

    def _send(self, county: County, ready: list[tuple[Notification, int]]) -> None:
        now = self.clock()
        tree = county.tree
        pipe = self.client.pipeline(transaction=False)
        for n, attempt in ready:  # the attempt is counted before it is made
            pipe.hset(county.keys.notify_tries, n.id, f"{attempt} {now + backoff_ms(attempt, self.backoff_base_ms)}")
        grids = [n.grid for n, _ in ready]
        pipe.hmget(county.keys.personal, grids)
        phones = pipe.execute()[-1]
        msgs = [compose(n, tree, p.decode() if isinstance(p, bytes) else p, self.base_url)
                for (n, _), p in zip(ready, phones, strict=True)]
        out: list[tuple[Event, str]] = []
        finished: list[str] = []
        with ThreadPoolExecutor(min(self.concurrency, len(msgs))) as pool:
            futures = {pool.submit(self._try, m): (n, a) for m, (n, a) in zip(msgs, ready, strict=True)}
            for fut in as_completed(futures):
                n, attempt = futures[fut]
                error = fut.result()
                self.sent += 1
                if error is None:
                    out.append((mob.delivered(n.id, self.channel.name, attempt), mob.delivered_key(n.id)))
                    finished.append(n.id)
                elif attempt >= self.attempts:
                    out.extend(self._failed(n, attempt, error))
                    finished.append(n.id)
                if len(out) >= 32:
                    county.record_many(out, ACTOR)
                    out = []
        if out:
            county.record_many(out, ACTOR)
        if finished:
            self.client.hdel(county.keys.notify_tries, *finished)

    def _try(self, msg: Message) -> str | None:
        try:
            self.channel.send(msg)
            return None
        except DeliveryFailed as exc:
            return str(exc)
        except Exception as exc:  # a channel bug must not stop the round; it is a failed attempt
            log.exception("channel %s raised", self.channel.name)
            return f"{type(exc).__name__}: {exc}"

    def _failed(self, n: Notification, attempts: int, error: str) -> list[tuple[Event, str]]:
        err = mob.bounded_error(error)
        alert = f"{mob.FAILED_ALERT}:{n.id}"
        return [
            (NotificationFailed(notification=n.id, channel=self.channel.name, attempts=attempts, error=err),
             mob.failed_key(n.id)),
            (AlertRaised(alert=alert, kind=mob.FAILED_ALERT, grid=n.grid,
                         detail={"notification": n.id, "person": n.person, "attempts": attempts, "error": err}),
             f"alert:{alert}"),
        ]

    def _clear_alerts(self, county: County) -> None:
        """A failed-delivery alert clears once its secretary is reached (a re-send, the field page)."""
        st = county.state
        posts = st.mobilisation.posts
        gone = [(AlertCleared(alert=a.id), f"clear:{a.id}") for a in st.alerts.values()
                if a.kind == mob.FAILED_ALERT and a.open
                and (a.grid not in posts or (posts[a.grid].notified_at or 0) > a.raised_at)]
        if gone:
            county.record_many(gone, ACTOR)

    def run(self, stop: threading.Event) -> None:
        """Rounds until `stop`: at once when the log grows, or when the next back-off ends."""
        while not stop.is_set():
            try:
                county = self.county() if self.round() is not None else None
                if county is None:
                    stop.wait(0.5)
                    continue
                ready, wake = self.due(county)
                if ready:
                    continue
                wait_ms = 1000 if wake is None else max(20, min(1000, wake - self.clock()))
                self.client.xread({county.keys.log: county.state.last_id}, count=1, block=int(wait_ms))
            except Exception:
                log.exception("notifier round failed; trying again")
                stop.wait(1.0)


def run_notifier(redis_url: str) -> None:
    """The notifier process of `wartime serve` (only started with a channel configured)."""
    channel = channel_from_env()
    if channel is None:
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    notifier = Notifier(connect(redis_url), channel)
    log.info("notifier: %s in %s format, %d attempts", channel.url, channel.fmt, notifier.attempts)
    notifier.run(stop)
