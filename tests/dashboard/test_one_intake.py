"""Every transport hands commands to the one intake: HTTP, a page's callback, the CLI, the demo's arrivals.

Against a real redis-server; the HTTP side is the /api/v1 blueprint that `wartime serve` mounts.
"""

from __future__ import annotations

from typing import Any

import flask
import pytest
from flask import Flask

from command.access import Actor, Role
from command.modes import SwitchRequest
from dashboard import audit
from dashboard.api import Backend, create_api
from dashboard.api_control import ROUTES as CONTROL
from dashboard.api_field import call_api
from dashboard.api_mobilisation import ROUTES as MOBILISATION
from dashboard.app import ROUTES
from dashboard.arrivals import ArrivalSimulator
from dashboard.cli import main as wartime
from dashboard.intake import Intake, intake_of
from streams.county import County
from streams.server import connect
from tests.conftest import PASSWORD, seed_county

BOSS = Actor("commander", Role.COMMANDER, "TC")


@pytest.fixture
def county(redis_url: str) -> County:
    seed_county(redis_url)
    return County(connect(redis_url), "TC")


@pytest.fixture
def app(county: County) -> Flask:
    flask_app = Flask("test")
    flask_app.register_blueprint(create_api(Backend(county.client), ROUTES))
    return flask_app


def _token(app: Flask, user: str = "commander") -> str:
    r = app.test_client().post("/api/v1/session", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200
    return str(r.get_json()["token"])


def _entries(county: County, source: str) -> list[dict[str, str]]:
    return [e.fields for e in audit.read(county.client, "TC", source=source, limit=None)]


def _log_length(county: County) -> int:
    return sum(int(county.client.xlen(s)) for s in county.log.streams())


def test_a_refused_switch_from_http_a_callback_and_the_cli_is_one_refusal_and_one_audit_line_each(
        app: Flask, county: County, redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    token = _token(app)
    before = _log_length(county)
    wrong = {"scope": "TC", "mode": "peacetime"}  # the county is not in wartime: nothing to stand down
    http = app.test_client().post("/api/v1/modes", json=wrong, headers={"Authorization": f"Bearer {token}"},
                                  environ_base={"REMOTE_ADDR": "198.18.9.1"})
    with app.test_request_context("/_dash-update-component", method="POST",
                                  environ_base={"REMOTE_ADDR": "198.18.9.2"}):
        app.preprocess_request()
        status, body = call_api("POST", "/modes", token, wrong)
        app.do_teardown_request()
    code = wartime(["switch", "TC", "--to", "peacetime", "--redis", redis_url])
    err = capsys.readouterr().err

    assert http.status_code == status == 409
    assert http.get_json()["error"]["code"] == body["error"]["code"] == "mode_conflict"
    assert code == 1 and body["error"]["message"] in err
    for source, method in (("198.18.9.1", "POST"), ("198.18.9.2", "POST"), ("local", "CLI")):
        (entry,) = _entries(county, source)
        assert (entry["kind"], entry["method"], entry.get("code")) == ("refused", method, "mode_conflict")
    assert _log_length(county) == before  # refused everywhere: nothing appended


def test_an_accepted_switch_from_the_cli_is_the_apis_answer_and_one_audit_line(
        county: County, redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert wartime(["switch", "TC01", "--to", "wartime", "--incident", "flood", "--level", "II",
                    "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    (entry,) = _entries(county, "local")
    assert entry["kind"] == "command" and entry["event"] in out
    assert county.refresh().mode_of("TC01").value == "wartime"


def test_a_page_reaches_the_api_without_flasks_test_client(app: Flask, county: County,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(app)

    def no_test_client(*_: Any, **__: Any) -> Any:
        raise AssertionError("a page called the API through Flask's test client")

    monkeypatch.setattr(Flask, "test_client", no_test_client)
    with app.test_request_context("/_dash-update-component", method="POST"):
        status, me = call_api("GET", "/me", token)
        listed = call_api("GET", "/secretaries?scope=TC01", token)
        missing = call_api("GET", "/no/such/thing", token)
        switched = call_api("POST", "/modes?dry_run=1", token,
                            {"scope": "TC01", "mode": "wartime", "incident": "flood", "level": "II"})
        flask.g.seen = True  # the outer request's own context is the only one
    assert (status, me["username"]) == (200, "commander")
    assert listed[0] == 200 and "vacancies" in listed[1]
    assert missing[0] == 404 and missing[1]["error"]["code"] == "unknown_endpoint"
    assert switched[0] == 200 and switched[1]["dry_run"] is True and switched[1]["event_id"] is None
    assert county.refresh().mode_of("TC01").value == "peacetime"  # a dry run appends nothing


def test_one_table_answers_http_and_in_process_alike(app: Flask, county: County) -> None:
    token = _token(app, "viewer")
    intake = intake_of(app)
    http = app.test_client().post("/api/v1/levels", json={"scope": "TC", "level": "I"},
                                  headers={"Authorization": f"Bearer {token}"})
    with app.test_request_context("/"):
        in_process = intake.call("POST", "/levels", token, {"scope": "TC", "level": "I"}, source=None)
    assert http.status_code == in_process.status == 403
    assert http.get_json() == in_process.body
    assert {"modes", "levels", "secretaries", "launch", "close", "ack", "on_post", "acknowledged", "renotify",
            "kiosk", "kiosk_withdraw", "create_matter", "advance_matter"} <= set(intake.commands)


def test_a_body_that_is_not_an_object_is_refused_the_same_way_from_every_transport(app: Flask,
                                                                                  county: County) -> None:
    token = _token(app)
    http = app.test_client().post("/api/v1/secretaries", data=b"[1]", content_type="application/json",
                                  headers={"Authorization": f"Bearer {token}"})
    direct = Intake(Backend(county.client, county), [CONTROL]).submit(BOSS, "secretaries", b"[1]")
    assert http.status_code == direct.status == 400
    assert http.get_json() == direct.body


def test_the_demo_arrivals_confirm_through_the_intake_once(county: County) -> None:
    county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "II", "汛情"))
    installed = dict(county.refresh().mobilisation.posts)
    sim = ArrivalSimulator(county, speed=1e9, seed=3, clock=lambda: 4e9)
    first = sim.tick()
    again = sim.tick()
    st = county.refresh()
    confirmed = [g for g, p in st.mobilisation.posts.items() if p.on_post_at is not None]
    assert first == len(confirmed) > 0 and again == 0
    assert all(st.mobilisation.posts[g].acknowledged_at is not None for g in confirmed)
    assert set(confirmed) <= set(installed)
    # the same command again through the intake is the duplicate the API answers
    grid = confirmed[0]
    me = Actor(f"sim:{grid}", Role.LEADER, grid)
    post = st.mobilisation.posts[grid]
    repeat = Intake(Backend(county.client, county), [MOBILISATION]).submit(
        me, "on_post", {"report_id": f"sim-onpost-{grid}-{post.installed_at}"}, params={"grid": grid})
    assert repeat.status == 200 and repeat.body["duplicate"] is True
