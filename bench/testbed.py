"""The little test county 'TC' and its accounts, shared by the suite and the benchmarks (bench never imports tests)."""

from __future__ import annotations

import socket

from command.access import Actor, Role
from command.grids import Grid, GridKind, GridTree, Level

PASSWORD = "test-password-1"
"""Password of the accounts `seed_county` creates."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tree(towns: int = 2, larges: int = 2, mediums: int = 2, smalls: int = 2, micros: int = 2) -> GridTree:
    """A regular little county 'TC': every small grid but the last of each medium has a first leader."""
    grids = [Grid("TC", "测试县", Level.COUNTY, GridKind.COMPREHENSIVE, None, 0, 0)]
    n = 0
    for t in range(1, towns + 1):
        tc = f"TC{t:02d}"
        grids.append(Grid(tc, f"第{t}镇", Level.TOWN, GridKind.COMPREHENSIVE, "TC", 0, 0))
        for lg in range(1, larges + 1):
            lc = f"{tc}-L{lg}"
            grids.append(Grid(lc, f"{lc}村", Level.LARGE, GridKind.COMPREHENSIVE, tc, 0, 0))
            for m in range(1, mediums + 1):
                mc = f"{lc}-M{m}"
                grids.append(Grid(mc, f"{mc}屯", Level.MEDIUM, GridKind.COMPREHENSIVE, lc, 0, 0))
                for s in range(1, smalls + 1):
                    sc = f"{mc}-S{s}"
                    leader = f"书记{sc}" if s < smalls else None
                    grids.append(
                        Grid(sc, f"{sc}小网格", Level.SMALL, GridKind.COMPREHENSIVE, mc, 0, 0, leader)
                    )
                    for w in range(1, micros + 1):
                        n += 1
                        grids.append(
                            Grid(f"{sc}-W{w}", f"微网格{n}", Level.MICRO, GridKind.COMPREHENSIVE, sc, 10, 30)
                        )
    return rollup(GridTree.build(grids))


def rollup(tree: GridTree) -> GridTree:
    """Parents' households and population as the sums of their children's."""
    grids = dict(tree.grids)
    for code in reversed(list(tree.subtree(tree.root))):
        kids = tree.children[code]
        if kids:
            g = grids[code]
            grids[code] = Grid(
                g.code, g.name, g.level, g.kind, g.parent,
                sum(grids[k].households for k in kids),
                sum(grids[k].population for k in kids),
                g.first_leader, g.leader, g.phone,
            )
    return GridTree.build(grids.values(), tree.central_households)


def seed_county(redis_url: str, tree: GridTree | None = None, geometry: dict | None = None) -> dict[str, str]:
    """Load a registry and the accounts tests log in with; returns username → scope."""
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.projector import Projector
    from streams.server import connect

    tree = tree or make_tree()
    client = connect(redis_url)
    county = County(client, tree.root)
    setup = Actor("test-setup", Role.COMMANDER, tree.root)
    county.load_registry(tree, geometry, setup)
    Projector(client, tree.root, consumer="seed", publish=False).catch_up()
    towns = list(tree.towns)
    leader_grid = next(g for g in tree.small_grids(towns[0]) if tree[g].first_leader)
    users = {
        "commander": ("commander", tree.root),
        "town1": ("commander", towns[0]),
        "leader": ("leader", leader_grid),
        "viewer": ("viewer", tree.root),
    }
    acc = Accounts(county)
    for name, (role, scope) in users.items():
        acc.add(name, PASSWORD, role, scope, setup)
    return {k: v[1] for k, v in users.items()}
