"""Live push: bands, board views, and the hub over a real Redis, a real projector and real WebSockets."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from command.access import Actor, Role
from command.fold import ControlState
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import ReportRequest
from dashboard.components.bands import band
from streams.county import County
from streams.live import LiveHub, board_view, encode_cells
from streams.projector import Projector
from streams.server import connect
from tests.conftest import free_port, make_tree

CMD = Actor("boss", Role.COMMANDER, "TC")
TOKENS = {"county": ("boss", "viewer", "TC"), "town2": ("t2", "viewer", "TC02"), "all": ("sys", "viewer", "")}


def arun(coro: Any) -> Any:
    """asyncio.run in a thread of its own (a Playwright session may own this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def verify(token: str) -> tuple[str, str, str]:
    """The dashboard's verify, reduced to a table (accounts are not the hub's business)."""
    if token not in TOKENS:
        raise PermissionError("bad token")
    return TOKENS[token]


# -- pure parts ---------------------------------------------------------------------------------


@given(st.sets(st.integers(0, 4999)), st.integers(5000, 6000))
def test_touched_cells_survive_their_encoding(cells: set[int], n: int) -> None:
    enc = encode_cells(cells, n)
    if "u" in enc:
        got = set(enc["u"])
    else:
        raw = base64.b64decode(enc["ub"])
        got = {i * 8 + k for i, byte in enumerate(raw) for k in range(8) if byte >> k & 1}
    assert got == cells


def test_encoding_many_touched_cells_stays_under_a_kilobyte() -> None:
    assert len(json.dumps(encode_cells(range(0, 5043, 2), 5043))) < 1000


def _state(tree: GridTree) -> ControlState:
    from command.events import ModeSwitched, OperationLaunched, Recorded

    st_ = ControlState(tree=tree)
    grids = tuple(tree.subtree("TC"))
    switched = ModeSwitched(scope="TC", mode="wartime", incident="flood", level="II", grids=grids)
    st_.apply(Recorded("1-0", switched, "x", 1))
    st_.apply(Recorded("2-0", OperationLaunched(operation="fire", kind="fire_hazard_check", scope="TC01",
                                                name="f"), "x", 2))
    st_.apply(Recorded("3-0", OperationLaunched(operation="mass", kind="mass_testing", scope="TC", name="m"), "x", 3))
    return st_


def test_board_view_shows_every_open_operation_and_maps_the_one_over_the_whole_scope() -> None:
    tree = make_tree()
    v = board_view(_state(tree), "TC")
    assert v.ops == ("fire", "mass")
    assert v.map_op == "mass" and v.counter == "sampled"
    assert v.kpi_grid == {"fire": "TC01", "mass": "TC"}
    assert v.cells == tuple(tree.leaves("TC")) and v.children == ("TC01", "TC02")


def test_board_view_of_a_town_reads_county_operations_at_the_town() -> None:
    v = board_view(_state(make_tree()), "TC02")
    assert v.ops == ("mass",) and v.kpi_grid == {"mass": "TC02"}


def test_board_view_with_a_chosen_operation_shows_only_it() -> None:
    v = board_view(_state(make_tree()), "TC", "fire")
    assert v.ops == ("fire",) and v.map_op == "fire" and v.counter == "households_checked"


# -- the hub, end to end -----------------------------------------------------------------------


class Hub:
    """A LiveHub on its own event loop in a thread, like `wartime serve` runs it."""

    def __init__(self, redis_url: str, flush_hz: float = 20.0) -> None:
        self.port = free_port()
        self.hub = LiveHub(redis_url, verify, flush_hz=flush_hz, ping_s=1.0, band=band)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)
        assert self.hub.subscribed.wait(10)

    def _run(self) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            async with serve(self.hub.handler, "127.0.0.1", self.port):
                self.ready.set()
                await self.hub.run()

        asyncio.set_event_loop(self.loop)
        with contextlib.suppress(RuntimeError, asyncio.CancelledError):  # stopped
            self.loop.run_until_complete(main())

    def stop(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            self.loop.call_soon_threadsafe(task.cancel)
        self.thread.join(5)


@pytest.fixture
def county(redis_url: str) -> County:
    c = County(connect(redis_url), "TC")
    c.load_registry(make_tree(), None, CMD)
    c.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    c.launch(CMD, "mass_testing", "TC", "mass", operation="op1")
    Projector(c.client, "TC", consumer="setup").catch_up()
    return c


@pytest.fixture
def hub(redis_url: str, county: County) -> Iterator[Hub]:
    h = Hub(redis_url)
    yield h
    h.stop()


def _url(hub: Hub, token: str, **q: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in q.items())
    return f"ws://127.0.0.1:{hub.port}/live?token={token}{extra}"


async def _until(ws: Any, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = json.loads(await ws.recv())
            if pred(msg):
                return msg

    return await asyncio.wait_for(loop(), timeout)


def _report(county: County, n: int, grid: str | None = None, amount: int = 3, tag: str = "r") -> None:
    leaves = sorted(county.tree.leaves("TC"))
    reqs = [ReportRequest("op1", f"{tag}{i}", grid or leaves[i % len(leaves)], {"sampled": amount}) for i in range(n)]
    county.report_many(CMD, reqs)
    Projector(county.client, "TC", consumer="test").catch_up()


def test_a_board_gets_its_full_state_then_the_totals_that_reports_make(county: County, hub: Hub) -> None:
    async def run() -> None:
        async with ws_connect(_url(hub, "county", scope="TC")) as ws:
            state = await _until(ws, lambda m: m["t"] == "state")
            assert state["ops"] == ["op1"] and state["k"]["op1"].get("sampled", 0) == 0
            assert state["n"] == 32 and len(state["bands"]) == 32 and set(state["bands"]) == {"0"}
            await asyncio.to_thread(_report, county, 40)
            want = county.progress.totals("op1", ["TC"])["TC"]["sampled"]
            assert want == 120
            total, got_children = 0, dict(state["c"])
            while total != want or sum(got_children.values()) != want:
                d = await _until(ws, lambda m: m["t"] == "d")
                total = d.get("k", {}).get("op1", {}).get("sampled", total)
                got_children.update(d.get("c", {}))
            kids = county.progress.totals("op1", ["TC01", "TC02"])
            assert got_children == {k: v["sampled"] for k, v in kids.items()}

    arun(run())


def test_a_hundred_reports_arrive_as_a_few_small_coalesced_messages(county: County, redis_url: str) -> None:
    h = Hub(redis_url, flush_hz=2.0)
    try:
        async def run() -> list[str]:
            async with ws_connect(_url(h, "county")) as ws:
                await _until(ws, lambda m: m["t"] == "state")
                await asyncio.to_thread(_report, county, 100)
                frames: list[str] = []
                while True:
                    text = str(await asyncio.wait_for(ws.recv(), 10))
                    frames.append(text)
                    m = json.loads(text)
                    if m.get("k", {}).get("op1", {}).get("sampled") == 300:
                        return frames

        frames = arun(run())
        deltas = [f for f in frames if '"t":"d"' in f]
        assert 1 <= len(deltas) <= 3
        assert all(len(f.encode()) < 5000 for f in deltas)
    finally:
        h.stop()


def test_a_town_board_hears_nothing_of_the_other_town(county: County, hub: Hub) -> None:
    async def run() -> None:
        async with ws_connect(_url(hub, "town2")) as ws:
            state = await _until(ws, lambda m: m["t"] == "state")
            assert state["scope"] == "TC02" and state["n"] == 16
            await asyncio.to_thread(_report, county, 5, "TC01-L1-M1-S1-W1", 2, "a")
            await asyncio.to_thread(_report, county, 1, "TC02-L1-M1-S1-W1", 4, "b")
            d = await _until(ws, lambda m: m["t"] == "d" and "k" in m)
            assert d["k"] == {"op1": {"sampled": 4}}
            assert d["f"] == [[d["f"][0][0], 0, "op1", {"sampled": 4}]]
            assert d["u"] == [0] and d["c"] == {"TC02-L1": 4}
            assert d["b"] == "0:1"  # 4 of 30 people: the second tenth

    arun(run())


def test_the_hub_refuses_a_bad_token_and_a_scope_outside_the_token(county: County, hub: Hub) -> None:
    async def closed_with(url: str) -> int | None:
        async with ws_connect(url) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value.rcvd.code if info.value.rcvd else None

    assert arun(closed_with(_url(hub, "nope"))) == 4401
    assert arun(closed_with(_url(hub, "town2", scope="TC01"))) == 4403


def test_a_reconnecting_board_catches_up_with_what_it_missed(county: County, hub: Hub) -> None:
    async def state_total() -> tuple[int, str]:
        async with ws_connect(_url(hub, "county")) as ws:
            s = await _until(ws, lambda m: m["t"] == "state")
            return s["k"]["op1"].get("sampled", 0), s["bands"]

    assert arun(state_total())[0] == 0
    _report(county, 32, amount=31)  # every cell gets 31 of its 30 people: over target
    total, bands = arun(state_total())
    assert total == 32 * 31 and bands == "b" * 32


def test_a_control_change_tells_every_board_and_resends_the_view(county: County, hub: Hub) -> None:
    async def run() -> None:
        async with ws_connect(_url(hub, "county")) as ws:
            await _until(ws, lambda m: m["t"] == "state")
            await asyncio.to_thread(county.launch, CMD, "fire_hazard_check", "TC01", "fire", None, None, "op2")
            await asyncio.to_thread(Projector(county.client, "TC", consumer="test").catch_up)
            await _until(ws, lambda m: m["t"] == "control")
            state = await _until(ws, lambda m: m["t"] == "state")
            assert state["ops"] == ["op1", "op2"]

    arun(run())


def test_every_update_stays_under_five_kilobytes_when_every_cell_changes_at_once(redis_url: str) -> None:
    big = make_tree(towns=3, larges=4, mediums=4, smalls=4, micros=8)  # 1,536 cells
    c = County(connect(redis_url), "TC")
    c.load_registry(big, None, CMD)
    c.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    c.launch(CMD, "mass_testing", "TC", "mass", operation="op1")
    Projector(c.client, "TC", consumer="setup").catch_up()
    h = Hub(redis_url, flush_hz=1.0)
    try:
        async def run() -> list[str]:
            async with ws_connect(_url(h, "county")) as ws:
                state = await _until(ws, lambda m: m["t"] == "state")
                assert state["n"] == 1536
                leaves = sorted(big.leaves("TC"))
                reqs = [ReportRequest("op1", f"all{i}", g, {"sampled": 15}) for i, g in enumerate(leaves)]
                await asyncio.to_thread(c.report_many, CMD, reqs)
                await asyncio.to_thread(Projector(c.client, "TC", consumer="test").catch_up)
                frames: list[str] = []
                changed = 0
                while changed < len(leaves):
                    text = str(await asyncio.wait_for(ws.recv(), 10))
                    if '"t":"d"' in text:
                        frames.append(text)
                        changed += len([p for p in json.loads(text).get("b", "").split(",") if p])
                return frames

        frames = arun(run())
        assert len(frames) >= 4  # 1,536 band changes, at most 400 a message
        assert max(len(f.encode()) for f in frames) < 5000
    finally:
        h.stop()
