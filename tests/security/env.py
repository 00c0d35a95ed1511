"""An in-process app over the real test Redis, for attacks and fuzzing that need thousands of requests.

The app is the very one `wartime serve` runs (`dashboard.app.create_app`), called
through Flask's test client: same routes, token checks, error mapping and audit,
without a socket per request. Tokens are minted with `Accounts.issue` (no Argon2
per request); the login path itself is attacked through `POST /api/v1/session`.

The county is the little test county "TC" with phone numbers and leader names
on its small grids (kept out of the log, see dashboard.privacy), in wartime,
with one county-wide operation and one in town TC02, and a few reports.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from command.access import Actor, Role
from command.grids import Grid, GridTree
from tests.conftest import PASSWORD, make_tree, rollup, seed_county

LEADER_GRID = "TC01-L1-M1-S1"
LEAF = "TC01-L1-M1-S1-W1"
OTHER_LEAF = "TC01-L1-M2-S1-W1"
TOWN2_LEAF = "TC02-L1-M1-S1-W1"


def tree_with_phones(names: dict[str, str] | None = None) -> tuple[GridTree, dict[str, str]]:
    """make_tree() with a leader's name and phone number on every small grid (and `names` for some grids)."""
    tree = make_tree()
    grids = []
    phones: dict[str, str] = {}
    n = 0
    for g in tree.grids.values():
        if g.level.value == "small":
            n += 1
            phone = f"138{n:08d}"
            phones[g.code] = phone
            g = Grid(g.code, g.name, g.level, g.kind, g.parent, g.households, g.population,
                     g.first_leader, f"组长{n}", phone)
        if names and g.code in names:
            g = Grid(g.code, names[g.code], g.level, g.kind, g.parent, g.households, g.population,
                     names.get(g.code + ":first_leader", g.first_leader), g.leader, g.phone)
        grids.append(g)
    return rollup(GridTree.build(grids)), phones


@dataclass
class Env:
    """The app, its Redis and the county, with helpers to call the API as anyone from anywhere."""

    app: Any
    client: Any
    redis: Any
    url: str
    county: Any
    accounts: Any
    tree: GridTree
    phones: dict[str, str]
    op_county: str
    op_town2: str
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    def token(self, user: str, *, kind: str = "session", ttl_s: int | None = None) -> str:
        """A fresh token for an account (as login would issue)."""
        rec = self.accounts.get(user)
        assert rec is not None, user
        return str(self.accounts.issue(Actor(user, Role(rec["role"]), rec["scope"]), kind=kind, ttl_s=ttl_s))

    def call(
        self,
        method: str,
        path: str,
        user: str | None = None,
        *,
        token: str | None = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        source: str = "10.9.8.7",
        query: dict[str, str] | None = None,
    ) -> Any:
        """One request to the app from `source`, as `user` (or with `token`)."""
        h = dict(headers or {})
        tok = token if token is not None else (self.token(user) if user else None)
        if tok is not None:
            h["Authorization"] = f"Bearer {tok}"
        kwargs: dict[str, Any] = {"headers": h, "environ_base": {"REMOTE_ADDR": source}}
        if query is not None:
            kwargs["query_string"] = query
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["content_type"] = "application/json"
        elif data is not None:
            kwargs["data"] = data
        return self.client.open(path, method=method, **kwargs)

    def streams(self) -> list[str]:
        return self.county.log.streams()

    def fingerprint(self) -> tuple[Any, ...]:
        """What a refused request must leave as it was: every stream, idempotency keys, accounts, grants."""
        pipe = self.redis.pipeline(transaction=False)
        for s in self.streams():
            pipe.xlen(s)
            pipe.xrevrange(s, count=1)
        keys = self.county.keys
        pipe.hgetall(keys.users)
        pipe.hlen(keys.idem)
        pipe.hgetall(keys.personal)
        pipe.get(keys.secret)
        return tuple(repr(sorted(x.items()) if isinstance(x, dict) else x) for x in pipe.execute())

    def all_stored_text(self, skip: tuple[str, ...] = ()) -> bytes:
        """Every value in Redis (streams entry by entry, strings, hashes, sets), for leak scans."""
        out: list[Any] = []
        for key in self.redis.scan_iter(count=1000):
            k = key.decode()
            if any(k.startswith(s) for s in skip):
                continue
            kind = self.redis.type(key).decode()
            if kind == "stream":
                for _, fields in self.redis.xrange(key):
                    out.extend(v for pair in fields.items() for v in pair)
            elif kind == "string":
                out.append(self.redis.get(key) or b"")
            elif kind == "hash":
                out.extend(v for pair in self.redis.hgetall(key).items() for v in pair)
            elif kind in ("set", "zset", "list"):
                items = (self.redis.smembers(key) if kind == "set" else
                         self.redis.zrange(key, 0, -1) if kind == "zset" else self.redis.lrange(key, 0, -1))
                out.extend(items)
        return b"\n".join(x if isinstance(x, bytes) else str(x).encode() for x in out)


def build_env(redis_url: str, names: dict[str, str] | None = None) -> Env:
    """Seed the county (flushing the server first), start an app and open two operations."""
    from dashboard.app import Config, create_app
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.projector import Projector
    from streams.server import connect

    r = redis.Redis.from_url(redis_url)
    r.flushall()
    r.script_flush()
    tree, phones = tree_with_phones(names)
    seed_county(redis_url, tree)
    client = connect(redis_url)
    county = County(client, "TC")
    accounts = Accounts(county)
    accounts.secret()  # made on first use: make it now, so that fingerprints compare like with like
    setup = Actor("test-setup", Role.COMMANDER, "TC")
    accounts.add("exporter", PASSWORD, "viewer", "TC", setup, personal_data=True)
    accounts.add("leader-exporter", PASSWORD, "leader", LEADER_GRID, setup, personal_data=True)
    accounts.add("town2", PASSWORD, "commander", "TC02", setup)
    from command.modes import SwitchRequest

    county.switch(setup, SwitchRequest("TC", "wartime", "epidemic", "II", "drill"))
    op_county = county.launch(setup, "mass_testing", "TC", "全县核酸").event.operation  # type: ignore[attr-defined]
    op_town2 = county.launch(setup, "mass_testing", "TC02", "二镇核酸").event.operation  # type: ignore[attr-defined]
    from command.operations import ReportRequest

    for i, leaf in enumerate((LEAF, OTHER_LEAF, TOWN2_LEAF)):
        county.report(setup, ReportRequest(op_county, f"seed-{i}", leaf, {"sampled": 3 + i}))
    Projector(client, "TC", consumer="seed", publish=False).catch_up()
    from streams.alerting import AlertEvaluator

    AlertEvaluator(county).run(int(time.time() * 1000))  # vacancy alerts in both towns
    app = create_app(Config(redis_url=redis_url))
    app.server.config["TESTING"] = False  # errors must come back as responses, not as exceptions
    return Env(app, app.server.test_client(), r, redis_url, county, accounts, tree, phones, op_county, op_town2,
               {u["username"]: (u["role"], u["scope"]) for u in accounts.list()})


XSS = '<script>alert("xss")</script>'
IMG = '<img src=x onerror="window.__pwned=1;alert(1)">'
FORMULA = '=HYPERLINK("http://evil.example","点我")'
HOSTILE_NAMES = {
    "TC01": f"一镇{XSS}",
    "TC02": f"+二镇{IMG}",
    LEADER_GRID: FORMULA,
    f"{LEADER_GRID}:first_leader": "<b onmouseover=alert(2)>书记</b>",
    "TC01-L1-M1-S1-W1": "@SUM(1+1)*cmd|' /C calc'!A0",
}
"""Names a hostile (or careless) registry file carries: markup, script, formulas."""


def build_hostile_env(redis_url: str) -> Env:
    """`build_env` with hostile grid and leader names, plus hostile text typed in: an operation's name,
    a report's note, an acting secretary's name; and a daily briefing issued over it all."""
    e = build_env(redis_url, HOSTILE_NAMES)
    boss = Actor("commander", Role.COMMANDER, "TC")
    op = e.county.launch(boss, "mass_testing", "TC", f"核酸{XSS}").event.operation  # type: ignore[attr-defined]
    from command.operations import ReportRequest

    e.county.report(boss, ReportRequest(op, "ft-1", LEAF, {"sampled": 4}, note=f"备注{IMG}{FORMULA}"))
    vacancy = next(g for g in sorted(e.county.refresh().vacancies) if g.startswith("TC01"))
    e.county.appoint(boss, vacancy, f"代理{XSS}"[:100])
    from streams.alerting import issue_briefings
    from streams.projector import Projector

    Projector(e.county.client, "TC", consumer="ft", publish=False).catch_up()
    issue_briefings(e.county, int(time.time() * 1000))
    e.op_county = op
    return e
