"""`wartime drill` against a real Redis: a recorded operation replayed to the end, its report beside the original."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from dashboard.cli import main
from tests.streams.test_drills import live_dump, recorded_operation


def test_wartime_drill_replays_an_operation_and_prints_the_report(
    client: redis.Redis, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded_operation(client, minutes=3)
    before = live_dump(client)
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"objectives": ["练"], "injects": []}), encoding="utf-8")
    code = main(["drill", "op-rec", "--speed", "600", "--scenario", str(scenario), "--redis", redis_url,
                 "--data", str(tmp_path), "--interval", "0.05"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert first["wall"] == f"/?drill={first['drill_id']}"
    assert any("演练 · DRILL" in line for line in lines[1:-1])
    assert last["recorded"]["total"] == last["drill"]["total"] > 0
    assert {k: v for k, v in live_dump(client).items() if b":audit" not in k} == \
        {k: v for k, v in before.items() if b":audit" not in k}


def test_wartime_drill_refuses_a_bad_scenario_naming_the_field(
    client: redis.Redis, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded_operation(client, minutes=1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"injects": [{"minute": "soon", "kind": "town_silent", "town": "TC01"}]}))
    assert main(["drill", "op-rec", "--speed", "60", "--scenario", str(bad), "--redis", redis_url,
                 "--data", str(tmp_path)]) == 1
    assert "injects[0].minute" in capsys.readouterr().err
    assert not [k for k in client.scan_iter() if k.startswith(b"wt:drill:")]
