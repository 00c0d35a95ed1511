"""One instant (DESIGN §7.6): every live message says which log position its figures reflect."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect as ws_connect

from dashboard.components.bands import band
from streams.county import County
from streams.keys import TownKeys
from streams.live import LiveHub
from streams.position import CONTROL, decode, encode, later, read_towns
from tests.streams.test_live import Hub, _report, _until, _url, arun, county, hub, verify

__all__ = ["county", "hub"]  # fixtures


def _checkpoints(c: County) -> dict[str, str]:
    return {t: (c.client.get(TownKeys(t).checkpoint) or b"0-0").decode() for t in c.tree.towns}


def test_state_and_deltas_carry_the_position_and_the_figures_are_the_log_at_it(county: County, hub: Hub) -> None:
    async def run() -> None:
        async with ws_connect(_url(hub, "county")) as ws:
            state = await _until(ws, lambda m: m["t"] == "state")
            at = dict(state["at"])
            assert set(at) == {CONTROL, "TC01", "TC02"}
            assert at[CONTROL] == county.refresh().last_id
            assert {t: at[t] for t in ("TC01", "TC02")} == _checkpoints(county)
            k = dict(state["k"]["op1"])
            await asyncio.to_thread(_report, county, 40)
            want = _checkpoints(county)
            while {t: at[t] for t in want} != want:
                d = await _until(ws, lambda m: m["t"] == "d")
                assert all(later(v, at[t]) for t, v in d["at"].items())  # only what moved, forwards
                at.update(d["at"])
                k.update(d.get("k", {}).get("op1", {}))
            assert k == county.progress.totals("op1", ["TC"])["TC"]

    arun(run())


def test_a_change_in_flight_while_the_mirror_read_is_already_reflected(county: County, redis_url: str) -> None:
    """A page published before the mirror's read but heard after it must not take totals back."""
    grid = "TC01-L1-M1-S1-W1"
    _report(county, 4, grid, 5, "a")
    before = _checkpoints(county)["TC01"]
    _report(county, 2, grid, 5, "b")
    hub = LiveHub(redis_url, verify, band=band)
    assert hub.load() and hub.mirror is not None
    hub.mirror.load(["op1"])
    assert hub.mirror.cell("op1", grid) == {"sampled": 30}
    hub.on_change({"town": "TC01", "at": before, "totals": {"op1": {grid: {"sampled": 20}}}, "last": {}})
    assert hub.mirror.cell("op1", grid) == {"sampled": 30}  # the old page: already reflected
    assert hub.mirror.pos["TC01"] == _checkpoints(county)["TC01"]
    hub.on_change({"town": "TC01", "at": "9999999999999-0", "totals": {"op1": {grid: {"sampled": 35}}}, "last": {}})
    assert hub.mirror.cell("op1", grid) == {"sampled": 35} and hub.mirror.pos["TC01"] == "9999999999999-0"


def test_positions_read_atomically_and_round_trip_as_text(county: County) -> None:
    _report(county, 3, "TC02-L1-M1-S1-W1", 2, "c")
    r = read_towns(county.client, ["TC01", "TC02"], ["op1"], ["op1"])
    assert r.pos == _checkpoints(county)
    assert r.counts["op1"]["TC02"] == {"sampled": 6} and "TC02-L1-M1-S1-W1" in r.last["op1"]
    pos: dict[str, Any] = {CONTROL: "5-1", **r.pos}
    text = encode(pos)
    assert text.startswith("~=5-1;TC01=") and decode(text) == pos
    assert later("10-0", "9-5") and later("9-6", "9-5") and not later("9-5", "9-5") and later("1-0", "")
