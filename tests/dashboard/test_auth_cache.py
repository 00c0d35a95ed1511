"""Session cache and group commit in one process, on the real Redis: fast paths that change no answer."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from command.access import Actor, Role
from command.errors import NotAuthenticated, OperationClosed
from command.events import ProgressReported
from command.modes import SwitchRequest
from command.operations import ReportRequest
from dashboard import auth
from dashboard.auth import Accounts
from streams.county import County
from streams.group_commit import GroupCommit
from streams.log import Appended, Pending
from streams.server import connect
from tests.conftest import PASSWORD, make_tree

ROOT = Path(__file__).resolve().parents[2]
BOSS = Actor("test-setup", Role.COMMANDER, "TC")


def _county(redis_url: str) -> County:
    county = County(connect(redis_url), "TC")
    county.load_registry(make_tree(), None, BOSS)
    return county


def _ready(accounts: Accounts) -> None:
    """Wait until this process listens for refusals (the cache is used only then)."""
    listener = auth._listener(accounts.client, accounts.county.code)
    deadline = time.monotonic() + 10
    while not listener.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.ready


def test_a_cached_session_is_refused_at_once_after_logout_removal_or_demotion(redis_url: str) -> None:
    county = _county(redis_url)
    accounts = Accounts(county)
    other = Accounts(County(connect(redis_url), "TC"))  # another client of the same process
    accounts.add("boss", PASSWORD, "commander", "TC", BOSS)
    _ready(accounts)
    tok = accounts.issue(Actor("boss", Role.COMMANDER, "TC"))
    assert accounts.verify(tok).actor.username == "boss"
    assert accounts.cached(tok) is not None  # the next report asks Redis nothing
    other.revoke(accounts.verify(tok).token_id, 2**31)
    assert accounts.cached(tok) is None
    try:
        accounts.verify(tok)
        raise AssertionError("a revoked token was honoured")
    except NotAuthenticated as exc:
        assert "revoked" in exc.message
    tok2 = accounts.issue(Actor("boss", Role.COMMANDER, "TC"))
    accounts.verify(tok2)
    other.add("boss", PASSWORD, "viewer", "TC", BOSS)  # demoted
    try:
        accounts.verify(tok2)
        raise AssertionError("a demoted user's token was honoured")
    except NotAuthenticated:
        pass


def test_a_user_removed_by_another_process_is_refused_when_the_command_returns(redis_url: str) -> None:
    county = _county(redis_url)
    accounts = Accounts(county)
    accounts.add("gone", PASSWORD, "commander", "TC", BOSS)
    _ready(accounts)
    tok = accounts.issue(Actor("gone", Role.COMMANDER, "TC"))
    accounts.verify(tok)
    assert accounts.cached(tok) is not None
    subprocess.run([sys.executable, "-m", "dashboard.cli", "users", "remove", "gone", "--redis", redis_url],
                   cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    deadline = time.monotonic() + 0.5  # the listener's delivery (a pub/sub message), far below the horizon
    while accounts.cached(tok) is not None and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        accounts.verify(tok)
        raise AssertionError("a removed user's token was honoured")
    except NotAuthenticated:
        pass


def test_group_commit_answers_each_caller_with_its_own_id_duplicate_or_refusal(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(BOSS, "mass_testing", "TC", "open", operation="op-open")
    county.launch(BOSS, "mass_testing", "TC", "shut", operation="op-shut")
    leaves = sorted(county.tree.leaves("TC"))
    first = county.report(BOSS, ReportRequest("op-open", "seen-before", leaves[0], {"sampled": 1}))
    county.refresh()
    shut_event = county.plan_report(BOSS, ReportRequest("op-shut", "late", leaves[1], {"sampled": 1}))
    county.close(BOSS, "op-shut")  # closed after validation: only the append script can refuse it
    items = [county.pending_report(county.plan_report(BOSS, ReportRequest("op-open", f"r{i}", leaves[i % len(leaves)],
                                                                         {"sampled": 1})), BOSS)
             for i in range(40)]
    items.append(county.pending_report(county.plan_report(BOSS, ReportRequest(
        "op-open", "seen-before", leaves[0], {"sampled": 1})), BOSS))
    items.append(county.pending_report(shut_event, BOSS))
    commit = GroupCommit(lambda: county.log)
    answers: dict[int, Appended | Exception] = {}
    gate = threading.Barrier(len(items))

    def one(i: int, item: Pending) -> None:
        gate.wait()
        try:
            answers[i] = commit.append(item)
        except Exception as exc:
            answers[i] = exc

    threads = [threading.Thread(target=one, args=(i, it)) for i, it in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = [answers[i] for i in range(40)]
    assert all(isinstance(a, Appended) and not a.duplicate for a in fresh)
    dup = answers[40]
    assert isinstance(dup, Appended) and dup.duplicate and dup.id == first.event_id
    assert isinstance(answers[41], OperationClosed)
    # the log holds each fresh report once, and nothing for the refused one
    stored = [r.event.report_id for r in county.log.replay() if isinstance(r.event, ProgressReported)]
    assert sorted(stored) == sorted(["seen-before", *(f"r{i}" for i in range(40))])


def test_verify_many_judges_each_token_as_now_in_one_call(redis_url: str) -> None:
    county = _county(redis_url)
    accounts = Accounts(county)
    accounts.add("boss", PASSWORD, "commander", "TC", BOSS)
    accounts.add("gone", PASSWORD, "commander", "TC", BOSS)
    good = [accounts.issue(Actor("boss", Role.COMMANDER, "TC")) for _ in range(30)]
    revoked = accounts.issue(Actor("boss", Role.COMMANDER, "TC"))
    accounts.revoke(accounts.verify(revoked).token_id, 2**31)
    expired = accounts.issue(Actor("boss", Role.COMMANDER, "TC"), ttl_s=-1)
    gone = accounts.issue(Actor("gone", Role.COMMANDER, "TC"))
    link = accounts.issue(Actor("gone", Role.VIEWER, "TC"), kind="kiosk")
    accounts.remove("gone")
    town_link = accounts.issue(Actor("boss", Role.VIEWER, "TC01"), kind="kiosk")
    got = accounts.verify_many([*good, revoked, expired, gone, link, "garbage", town_link])
    assert all(not isinstance(s, NotAuthenticated) and s.actor.username == "boss" for s in got[:30])
    assert [isinstance(s, NotAuthenticated) for s in got[30:]] == [True, True, True, True, True, False]
    assert [s.message for s in got[30:35] if isinstance(s, NotAuthenticated)] == [
        "token revoked", "token expired; log in again", "account changed or removed; log in again",
        "the user who made this kiosk link is gone", "invalid token"]
    last = got[35]
    assert not isinstance(last, NotAuthenticated) and last.actor.scope == "TC01" and last.kind == "kiosk"
