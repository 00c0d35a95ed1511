"""Many counties in one Redis (a generated province): each county's keys and views are its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from command.access import Actor, Role
from command.generate import province_county
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import CURRENT_COUNTY
from streams.projector import Projector
from streams.server import EmbeddedRedis, connect

TAG = re.compile(r"\{([^}]*)\}")


@pytest.fixture(scope="module")
def trees() -> list[GridTree]:
    """Three Dongchang-shaped counties P001–P003 (six streets each), no polygons."""
    return [province_county(k, "dongchang", geometry=False)[0] for k in (1, 2, 3)]


@dataclass
class Loaded:
    """The province as loaded: each county's surface and the sum of the reports it was sent."""

    counties: list[County]
    sent: list[int]


def operation_of(tree: GridTree) -> str:
    return f"op-{tree.root.lower()}"


def send(county: County, n: int, start: int = 0) -> int:
    """`n` reports of k = 1..n people sampled, street after street; returns their sum."""
    tree = county.tree
    actor = Actor("boss", Role.COMMANDER, tree.root)
    leaves = [sorted(tree.leaves(t)) for t in tree.towns]
    reqs = []
    for i in range(n):
        pool = leaves[i % len(leaves)]
        grid = pool[(start + i) % len(pool)]
        reqs.append(ReportRequest(operation_of(tree), f"r{start + i}", grid, {"sampled": i + 1}))
    county.report_many(actor, reqs)
    return n * (n + 1) // 2


@pytest.fixture(scope="module")
def province_url(redis_server: EmbeddedRedis) -> str:
    """The session's Redis, emptied once for this module (the province is loaded once)."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    return redis_server.url


@pytest.fixture(scope="module")
def loaded(province_url: str, trees: list[GridTree]) -> Iterator[Loaded]:
    """Every county loaded, in wartime, with its own operation, reports and projected read models."""
    client = connect(province_url)
    counties, sent = [], []
    for i, tree in enumerate(trees):
        actor = Actor("boss", Role.COMMANDER, tree.root)
        county = County(client, tree.root)
        county.load_registry(tree, None, actor, source="province")
        county.switch(actor, SwitchRequest(tree.root, "wartime", "epidemic", "II"))
        county.launch(actor, "mass_testing", tree.root, f"全员核酸 {tree.root}", operation=operation_of(tree))
        sent.append(send(county, 40 + 10 * i))
        Projector(client, tree.root, consumer=f"p-{tree.root}", publish=False).catch_up()
        counties.append(county)
    yield Loaded(counties, sent)


def tags_of(tree: GridTree) -> set[str]:
    """The hash tags a county may use: its own code (control shard), its towns' and its operation's claims."""
    return {tree.root, *tree.towns, f"{tree.root}:{operation_of(tree)}"}


def test_generated_counties_have_distinct_codes_and_town_tags(trees: list[GridTree]) -> None:
    assert [t.root for t in trees] == ["P001", "P002", "P003"]
    for a in trees:
        for b in trees:
            if a is not b:
                assert not tags_of(a) & tags_of(b)
                assert not set(a.grids) & set(b.grids)


def test_every_key_of_the_province_carries_the_tag_of_exactly_one_county(
    loaded: Loaded, trees: list[GridTree]
) -> None:
    client = loaded.counties[0].client
    owner = {tag: t.root for t in trees for tag in tags_of(t)}
    by_county: dict[str, set[str]] = {t.root: set() for t in trees}
    for raw in client.scan_iter(count=1000):
        key = raw.decode()
        if key == CURRENT_COUNTY:
            continue
        tags = TAG.findall(key)
        assert len(tags) == 1, key
        assert tags[0] in owner, key
        by_county[owner[tags[0]]].add(key)
    for tree in trees:
        keys = by_county[tree.root]
        assert f"wt:{{{tree.root}}}:log" in keys
        assert {f"wt:{{{t}}}:log" for t in tree.towns} <= keys  # every street got reports
        assert {f"wt:{{{t}}}:rm:counts:{operation_of(tree)}" for t in tree.towns} <= keys


def test_each_county_rolls_up_exactly_its_own_reports(loaded: Loaded) -> None:
    for county, sent in zip(loaded.counties, loaded.sent, strict=True):
        county.refresh()
        root = county.tree.root
        got = county.progress.totals(operation_of(county.tree), [root, *county.tree.towns])
        assert got[root]["sampled"] == sent
        assert sum(got[t]["sampled"] for t in county.tree.towns) == sent
        assert set(county.state.operations) == {operation_of(county.tree)}


def test_reports_in_one_county_leave_the_other_counties_unchanged(loaded: Loaded) -> None:
    first, *others = loaded.counties
    client = first.client
    before = {c.code: (client.xlen(c.keys.log), _totals(c)) for c in others}
    extra = send(first, 25, start=1000)
    Projector(client, first.code, consumer="again", publish=False).catch_up()
    loaded.sent[0] += extra
    assert _totals(first)[first.code] == loaded.sent[0]
    for c in others:
        assert (client.xlen(c.keys.log), _totals(c)) == before[c.code]


def _totals(county: County) -> dict[str, int]:
    county.refresh()
    tree = county.tree
    got = county.progress.totals(operation_of(tree), [tree.root, *tree.towns])
    return {g: v["sampled"] for g, v in got.items()}


def test_a_county_view_reads_only_its_own_keys(loaded: Loaded, province_url: str, trees: list[GridTree]) -> None:
    target = trees[1]
    others = [t.root for t in trees if t is not target]
    watcher = redis.Redis.from_url(province_url)
    port = int(str(watcher.config_get("port")["port"]))
    # The view talks over TCP, so that its commands can be told from any other client's.
    view_client = connect(f"redis://127.0.0.1:{port}/0")
    view_client.client_setname("county-view")
    addr = next(c["addr"] for c in view_client.client_list() if c.get("name") == "county-view")
    with watcher.monitor() as monitor:
        # A fresh process's view: fold the control stream, totals of the county and its streets,
        # one grid's card and the operation's progress answer.
        county = County(view_client, target.root)
        county.refresh()
        op = operation_of(target)
        totals = county.progress.totals(op, [target.root, *target.towns])
        card = county.grid(target.towns[0])
        answer = county.progress.progress(op, target.root)
        view_client.echo("end-of-county-view")
        commands: list[str] = []
        while True:
            seen = monitor.next_command()
            cmd = str(seen["command"])
            if "end-of-county-view" in cmd:
                break
            if f"{seen.get('client_address')}:{seen.get('client_port')}" == addr:
                commands.append(cmd)
    assert totals[target.root]["sampled"] == answer["counts"]["sampled"] == loaded.sent[1]
    assert card["mode"] == "wartime"
    assert any(c.startswith("XRANGE") for c in commands) and any(c.startswith("HMGET") for c in commands)
    for cmd in commands:
        assert set(TAG.findall(cmd)) <= tags_of(target), cmd
        assert not any(code in cmd for code in others), cmd
        assert not cmd.startswith(("KEYS", "SCAN")), cmd
