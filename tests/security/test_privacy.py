"""Privacy: leaders' phone numbers leave only through a granted, scoped, audited export.

The test county has a leader's name and phone number on every small grid.
Nobody without the `personal_data` grant sees a phone number anywhere — not in
any read endpoint, not in the event log, not in the audit trail.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator

import pytest

from command.access import Actor, Role
from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD
from tests.security.env import LEADER_GRID, Env, build_env
from tests.security.tally import tally

ATTACKS = tally("privacy")


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _phones_in(env: Env, blob: bytes) -> set[str]:
    return {p for p in env.phones.values() if p.encode() in blob}


def _read_everything(env: Env, user: str) -> Iterator[tuple[str, bytes]]:
    """Every read endpoint, at every grid of the user's scope that a page would ask for."""
    scope = env.users[user][1]
    grids = [g for g in env.tree.subtree(scope)]
    paths = ["/api/v1/me", "/api/v1/operations", "/api/v1/alerts", "/api/v1/secretaries",
             "/api/v1/field/mine", "/api/v1/board", "/api/v1/contact-rounds", "/api/v1/briefings",
             "/api/v1/matters", "/api/v1/matters/summary", "/api/v1/matters/map",
             f"/api/v1/operations/{env.op_county}/progress", f"/api/v1/operations/{env.op_county}/timeline"]
    for fmt in ("html", "csv", "xlsx"):
        paths.append(f"/api/v1/operations/{env.op_county}/report?format={fmt}")
    for g in grids:
        paths += [f"/api/v1/grids/{g}", f"/api/v1/console/tree/{g}", f"/api/v1/console/scope/{g}"]
    for a in env.call("GET", "/api/v1/alerts", user).get_json()["alerts"]:
        paths += [f"/api/v1/alerts/{a['id']}", f"/api/v1/alerts/{a['id']}/cap"]
    tok = env.token(user)
    for p in paths:
        r = env.call("GET", p, token=tok)
        ATTACKS.add("read endpoint scanned for phone numbers")
        assert r.status_code < 500, (p, r.status_code)
        data = r.get_data()
        if data.startswith(b"PK"):  # an XLSX: look inside the zip, not at its compressed bytes
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        yield p, data


@pytest.mark.parametrize("user", ["viewer", "commander", "town1", "leader"])
def test_no_read_endpoint_shows_a_phone_number(env: Env, user: str) -> None:
    seen = 0
    for path, data in _read_everything(env, user):
        assert not _phones_in(env, data), f"{path} shows a phone number to {user}"
        assert b'"phone"' not in data, path
        seen += 1
    assert seen > 20


def test_grid_answers_leader_names_but_no_phone(env: Env) -> None:
    g = env.call("GET", f"/api/v1/grids/{LEADER_GRID}", "viewer").get_json()
    assert g["leader"] and "phone" not in g


def test_the_event_log_and_the_audit_trail_hold_no_phone_number(env: Env) -> None:
    env.call("GET", "/api/v1/registry/export", "exporter")  # an export happened: its audit entry has no data
    logs = b"".join(
        v for s in [*env.streams(), env.county.keys.audit] for _, f in env.redis.xrange(s) for v in f.values()
    )
    assert b"registry_loaded" in logs
    assert not _phones_in(env, logs)
    # they are kept, aside, for the export
    assert env.redis.hlen(env.county.keys.personal) == len(env.phones)


def test_the_export_needs_its_own_grant(env: Env) -> None:
    for user in ("commander", "town1", "leader", "viewer"):
        r = env.call("GET", "/api/v1/registry/export", user)
        ATTACKS.add("export without the grant")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_authorised"
        assert not _phones_in(env, r.get_data())
    # a link made by a commander who holds the grant (a link reads no more than a commander maker may)
    env.accounts.add("grant-boss", PASSWORD, "commander", "TC", Actor("test-setup", Role.COMMANDER, "TC"),
                     personal_data=True)
    kiosk = env.accounts.issue(Actor("grant-boss", Role.VIEWER, "TC"), kind="kiosk")
    assert env.call("GET", "/api/v1/grids/TC", token=kiosk).status_code == 200
    r = env.call("GET", "/api/v1/registry/export", token=kiosk)
    ATTACKS.add("export with a kiosk link")
    assert r.status_code == 403
    r = env.call("GET", "/api/v1/registry/export", query={"token": env.token("exporter"), "format": "csv"})
    assert r.status_code == 200  # a download link works for the holder of the grant


def test_a_granted_export_is_scoped_complete_and_audited(env: Env) -> None:
    r = env.call("GET", "/api/v1/registry/export", "exporter", query={"scope": "TC01"}, source="203.0.113.5")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["code"] for row in rows} == set(env.tree.subtree("TC01"))
    got = {row["code"]: row["phone"] for row in rows if row["phone"]}
    assert got == {g: p for g, p in env.phones.items() if g.startswith("TC01")}
    # a leader with the grant: its own grid only, never the neighbour's number
    mine = env.call("GET", "/api/v1/registry/export", "leader-exporter", query={"format": "json"}).get_json()
    assert {row["code"] for row in mine["rows"]} == set(env.tree.subtree(LEADER_GRID))
    for scope in ("TC01", "TC", "TC01-L1-M1-S2"):
        r = env.call("GET", "/api/v1/registry/export", "leader-exporter", query={"scope": scope})
        ATTACKS.add("export outside the scope")
        assert r.status_code == 403 and not _phones_in(env, r.get_data())
    from dashboard import audit

    entry = audit.read(env.redis, "TC", kind="export", source="203.0.113.5")[-1].fields
    assert entry["actor"] == "exporter" and "scope=TC01" in entry["detail"] and "rows=" in entry["detail"]
    refused = audit.read(env.redis, "TC", kind="refused", actor="leader-exporter")
    assert len(refused) >= 3


def test_withdrawing_the_grant_takes_effect_at_once(env: Env) -> None:
    setup = Actor("test-setup", Role.COMMANDER, "TC")
    env.accounts.add("temp-exporter", PASSWORD, "viewer", "TC02", setup, personal_data=True)
    tok = env.token("temp-exporter")
    assert env.call("GET", "/api/v1/registry/export", token=tok).status_code == 200
    env.accounts.add("temp-exporter", PASSWORD, "viewer", "TC02", setup)  # same role and scope, no grant
    tok2 = env.token("temp-exporter")
    for t in (tok, tok2):
        assert env.call("GET", "/api/v1/registry/export", token=t).status_code == 403


def test_exported_cells_that_look_like_formulas_are_inert() -> None:
    from dashboard.privacy import COLUMNS, to_csv

    evil = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=cmd|'/c calc'!A0"]
    rows = [dict.fromkeys(COLUMNS, "") | {"name": e, "leader": e, "code": "C"} for e in evil]
    text = to_csv(rows).lstrip("\ufeff")
    for row in csv.DictReader(io.StringIO(text)):
        assert row["name"].startswith("'") and row["leader"].startswith("'")
    assert not re.search(r"(^|,)[=+\-@]", text, re.M)
