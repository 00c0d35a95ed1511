"""Synthetic counties for demos and tests, built from the published figures (FIGURES.md).

`generate(profile, seed)` returns a `GridTree` and a GeoJSON polygon per code. It is pure
Python driven by one `random.Random(seed)`: the same profile and seed always give the same
tree and polygons, hence the same bytes from `registry.write_registry`.

How a county is made:

1. *Skeleton.* A profile builds the hierarchy with the exact published counts (see each
   profile's docstring for the mapping to FIGURES.md). Codes are hierarchical and sort in
   pre-order: the county (``PN``), towns (``PN01``), then one segment per level below,
   a letter and two digits: ``L`` large, ``M`` medium, ``S`` small, ``W`` micro (微) for
   comprehensive grids and ``D`` for any dedicated grid, e.g. ``PN01-L03-M02-S01-W04``
   or ``PN01-D05``; central households add ``-H1`` to their micro grid.
2. *Numbers.* Households and population are drawn for leaf grids only; every parent holds
   the exact sums of its children, so roll-ups are consistent by construction.
3. *People.* Every node gets a leader and an (obviously fake) mobile number; a fixed number
   of small grids get a first small-grid leader; the rest are wartime vacancies.
4. *Polygons.* A county-shaped blob is split recursively by straight cuts into pieces whose
   areas follow the children's weights, so towns tile the county and every grid's children
   tile it. Coordinates are rounded to 5 decimals (about 1 m).

*From an outline.* ``generate(profile, outline=ring)`` tiles a real county boundary
(``wartime generate --outline FILE``) instead of the blob; the tree, people and figures
are the profile's, byte for byte. Cuts leave T-junctions (a cut ending on a neighbour's
edge); before rounding, every ring gets the vertices of other pieces that lie on its
edges (`_node`), so that rounding moves shared borders together and towns still tile the
outline without gaps or slivers. Those coordinates keep 7 decimals (~1 cm): a real
boundary has vertices closer than the 1 m of 5 decimals.

A *province* (`generate_province`, `province_county`) is many counties of one profile,
each with its own seed, a code of its own (``P001``, ``P002``… in place of ``PN``, so
every town keeps a distinct Redis hash tag) and a place of its own on a lattice.

Why one module: the skeletons, numbers, people and polygons are one
deterministic draw from one `random.Random(seed)`; the order of draws is the
output (same seed, same bytes), and a split across modules would hide that
order behind imports. The profiles (one function each) are the bulk.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import split

from command.errors import InvalidRequest
from command.grids import GRID_LEVELS, CentralHousehold, Grid, GridKind, GridTree, Level

__all__ = [
    "PINGNAN_FIGURES",
    "PROFILES",
    "PROVINCE_COLUMNS",
    "Geometry",
    "Profile",
    "Ring",
    "generate",
    "generate_province",
    "province_county",
    "summary",
]


Geometry = dict[str, Any]

# ---------------------------------------------------------------------------- names

_GIVEN = (
    "建国华明伟强军平志海秀英丽芳燕玲兰桂春成德文荣光勇红敏静霞斌东林辉新宏凤珍梅金永洪"
    "军庆福贵生荣锋涛杰鹏飞雪琴娟萍慧婷"
)
_SURNAMES_SOUTH = "陈李黄梁覃韦莫蒙刘罗张林吴邓周何杨谢钟甘蒋曾冯潘麦卢彭温赖苏"
_SURNAMES_NORTH = "王李张刘赵孙于高杨陈马徐朱胡郭何林董吕姜崔曲宋邵"
_SURNAMES_EAST = "王张李汪方吴陈刘程胡姚何朱叶钱章江孙潘许徐周"
_PLACE_FIRST = "大小上下东西南北新石古马龙凤黄白青金安平福高长六双三沙桂竹莲旺罗"
_PLACE_SECOND = "塘岭江坡冲垌头山田湾洞岗口桥水林岩坪寨美垌勒厚安和福"
_HAMLET_FIRST = "大小上下老新中前后高低岭塘坡冲湾屋垌园松荔蕉榕"
_HAMLET_SECOND = "塘岭坡冲垌头田湾屋岗寨排背底面根角"
_CN_ORDINAL = "一二三四五六七八九十"


def _words(text: str) -> tuple[str, ...]:
    """Space-separated name stems, kept on few lines."""
    return tuple(text.split())


def _person(rng: random.Random, surnames: str) -> str:
    """A plausible Chinese name: a surname and one or two given characters."""
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(surnames) + given


def _phone(rng: random.Random) -> str:
    """An 11-digit mobile number of the usual shape; made up."""
    return f"1{rng.choice('358')}{rng.randrange(10**9):09d}"


def _unique_name(rng: random.Random, first: Sequence[str], second: Sequence[str], taken: set[str]) -> str:
    """Two random characters not used yet in `taken` (which it updates)."""
    for _ in range(1000):
        name = rng.choice(first) + rng.choice(second)
        if name not in taken and name[0] != name[1]:
            taken.add(name)
            return name
    raise RuntimeError("name pool exhausted")  # pragma: no cover - pools are far larger


def _ordinal(n: int) -> str:
    """1 → 一 … 10 → 十, then digits: for names like 第三网格."""
    return _CN_ORDINAL[n - 1] if 1 <= n <= len(_CN_ORDINAL) else str(n)


# ---------------------------------------------------------------------------- skeleton


@dataclass(eq=False)
class _Node:
    """A mutable node while a county is being built; frozen into `Grid` at the end."""

    code: str
    name: str
    level: Level
    kind: GridKind
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    weight: float = 0.0  # area weight (leaves); parents use the sum of their leaves
    households: int = 0
    population: int = 0
    first_leader: str | None = None
    leader: str | None = None
    phone: str | None = None
    _serial: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        letter: str,
        name: str,
        level: Level,
        kind: GridKind = GridKind.COMPREHENSIVE,
        weight: float = 0.0,
    ) -> _Node:
        """Append a child with the next code segment for `letter` under this node."""
        n = self._serial.get(letter, 0) + 1
        if n > 99:
            raise RuntimeError(f"more than 99 {letter} children under {self.code}")
        self._serial[letter] = n
        code = f"{self.code}{n:02d}" if level == Level.TOWN else f"{self.code}-{letter}{n:02d}"
        child = _Node(code, name, level, kind, parent=self, weight=weight)
        self.children.append(child)
        return child

    def walk(self) -> Iterator[_Node]:
        """Pre-order, children in creation order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass
class _County:
    """What a profile builds: the root and the central households under its micro grids."""

    root: _Node
    surnames: str
    outline: list[tuple[float, float]]
    central_households: list[CentralHousehold] = field(default_factory=list)


def _spread(rng: random.Random, total: int, bins: int, cap: int) -> list[int]:
    """Split `total` into `bins` counts, each 1..cap, at random (every parent gets ≥ 1 child)."""
    if not bins <= total <= bins * cap:
        raise ValueError(f"cannot spread {total} over {bins} bins of 1..{cap}")
    counts = [1] * bins
    extra = total - bins
    while extra:
        i = rng.randrange(bins)
        if counts[i] < cap:
            counts[i] += 1
            extra -= 1
    return counts


def _split_total(rng: random.Random, total: int, n: int, lo: int, hi: int) -> list[int]:
    """`n` values in lo..hi summing exactly to `total` (e.g. households linked per household)."""
    if not n * lo <= total <= n * hi:
        raise ValueError(f"cannot split {total} into {n} values of {lo}..{hi}")
    values = [lo] * n
    extra = total - n * lo
    while extra:
        i = rng.randrange(n)
        if values[i] < hi:
            values[i] += 1
            extra -= 1
    return values


def _fill(node: _Node, rng: random.Random, hh: tuple[int, int], size: tuple[float, float]) -> None:
    """Draw a leaf's households and population (people per household in `size`)."""
    node.households = rng.randint(*hh)
    node.population = round(node.households * rng.uniform(*size))


def _site(node: _Node, rng: random.Random, people: tuple[int, int]) -> None:
    """Draw a dedicated site's headcount and the few households living on site."""
    node.population = rng.randint(*people)
    node.households = rng.randint(2, 30)


def _central_households(rng: random.Random, county: _County, micros: Sequence[_Node], count: int, linked: int) -> None:
    """Place `count` central households on distinct micro grids linking `linked` in total."""
    chosen = sorted(rng.sample(list(micros), count), key=lambda n: n.code)
    for node, links in zip(chosen, _split_total(rng, linked, count, 5, 10), strict=True):
        county.central_households.append(
            CentralHousehold(f"{node.code}-H1", node.code, _person(rng, county.surnames), links)
        )


def _choose_first_leaders(rng: random.Random, county: _County, count: int | None) -> None:
    """Give `count` small grids (all when None) a first small-grid leader."""
    smalls = [n for n in county.root.walk() if n.level == Level.SMALL]
    chosen = smalls if count is None else rng.sample(smalls, count)
    for node in sorted(chosen, key=lambda n: n.code):
        node.first_leader = _person(rng, county.surnames)


# ---------------------------------------------------------------------------- profiles

# Pingnan's 21 towns and streets in official order, with (communities, villages): 296
# villages and communities in all, as the county reports; the nine mountain towns get larger
# territories per village.
_PINGNAN_TOWNS: tuple[tuple[str, int, int], ...] = (
    ("平南街道", 9, 8),
    ("上渡街道", 2, 10),
    ("平山镇", 1, 17),
    ("寺面镇", 1, 17),
    ("六陈镇", 1, 16),
    ("大新镇", 1, 14),
    ("大安镇", 1, 16),
    ("大坡镇", 1, 13),
    ("大洲镇", 1, 11),
    ("武林镇", 1, 15),
    ("镇隆镇", 1, 13),
    ("安怀镇", 1, 12),
    ("丹竹镇", 1, 17),
    ("官成镇", 1, 15),
    ("思旺镇", 1, 14),
    ("大鹏镇", 1, 16),
    ("同和镇", 1, 10),
    ("东华镇", 1, 11),
    ("思界乡", 1, 8),
    ("国安瑶族乡", 1, 6),
    ("马练瑶族乡", 1, 7),
)
_PINGNAN_MOUNTAIN = {"大鹏镇", "国安瑶族乡", "马练瑶族乡", "同和镇", "大坡镇", "大洲镇", "寺面镇",
                     "平山镇", "六陈镇"}  # fmt: skip
_PINGNAN_COMMUNITIES = _words("城东 城西 城南 城北 龚州 江北 新华 建设 人民 朝阳 解放 东门 南门 西门 河堤 桥头 新城")
_COMPOUND_FIRST = _words(
    "江景 龚州 锦绣 阳光 翠竹 金桂 荔园 富民 和谐 幸福 滨江 鹏程 盛世 碧水 青云 书香 桂园 南苑 东方 世纪"
)
_COMPOUND_SECOND = _words("花园 家园 小区 新村 雅苑 名城 华庭 佳园")
_PINGNAN_PARKS = (("上渡街道", "平南临江产业园"), ("丹竹镇", "平南丹竹产业园"),
                  ("武林镇", "平南武林产业园"))  # fmt: skip
_PINGNAN_COUNTY_SITES = (
    ("平南县人民医院", (900, 1600)),
    ("平南县中医医院", (500, 1000)),
    ("平南县妇幼保健院", (300, 700)),
    ("平南县中学", (3000, 4500)),
    ("平南县职业教育中心", (2000, 3500)),
    ("平南汽车客运站", (300, 900)),
    ("平南县体育公园", (200, 800)),
    ("龚州公园", (200, 900)),
)
_SCHOOLS_WITH_ZONES = ("平南县中学", "平南县职业教育中心")

PINGNAN_FIGURES = {
    "towns": 21,
    "comprehensive": 7226,
    "dedicated": 165,
    "first_leaders": 385,
    "central_households": 4870,
    "linked_households": 32737,
}


def _short(town: str) -> str:
    """平山镇 → 平山, 国安瑶族乡 → 国安: the stem used in site names."""
    for suffix in ("瑶族乡", "街道", "镇", "乡"):
        if town.endswith(suffix):
            return town[: -len(suffix)]
    return town


def _pingnan(rng: random.Random, micro_grids: int = 4891) -> _County:
    """Pingnan county (平南县), built to add up exactly to FIGURES.md.

    * County ``PN`` 平南县 and its 21 real towns and streets ``PN01``–``PN21`` (not grids).
    * 7,226 comprehensive grids: 296 large (the county's 296 villages and communities:
      266 村, 30 社区); 739 medium = 640 hamlets (屯, the 640 hamlet-level grid party
      branches) under villages + 99 residential compounds (小区, the 99 compound grid party
      branches) under communities; 1,300 small; 4,891 micro. Every large has a medium,
      every medium a small, every small a micro.
    * 165 dedicated grids: 3 industrial parks (large, under a town) with 3 zones each
      (small); 8 county-level sites (hospitals, senior schools, bus station, parks) and a
      market, health centre and middle school in each of the 21 towns (small, under the
      town); 10 schools split into teaching and dormitory zones (micro, under the school);
      62 village schools, nursing homes, squares and community kindergartens (small,
      under a large grid).
    * 385 of the 1,442 small grids have a first small-grid leader; the rest are vacancies.
    * 4,870 central households, each on its own micro grid, linking 32,737 households (5–10).
    * About 1.0–1.2 million residents (the county registers about 1.5 million).
    """
    county = _County(
        _Node("PN", "平南县", Level.COUNTY, GridKind.COMPREHENSIVE),
        _SURNAMES_SOUTH,
        _outline(rng, (110.5, 23.55), (0.26, 0.32)),
    )
    root = county.root
    taken: set[str] = set()
    compounds: set[str] = set()
    villages: list[_Node] = []
    communities: list[_Node] = []
    towns: dict[str, _Node] = {}
    for town_name, n_comm, n_vill in _PINGNAN_TOWNS:
        town = root.add("", town_name, Level.TOWN)
        towns[town_name] = town
        terrain = 2.2 if town_name in _PINGNAN_MOUNTAIN else 1.0
        stems = list(_PINGNAN_COMMUNITIES) if n_comm > 1 else [_short(town_name)]
        for i in range(n_comm):
            stem = stems[i] if n_comm > 1 else stems[0]
            node = town.add("L", f"{stem}社区", Level.LARGE)
            node.weight = 0.06  # per micro grid below: dense town centre
            communities.append(node)
        for _ in range(n_vill):
            node = town.add("L", _unique_name(rng, _PLACE_FIRST, _PLACE_SECOND, taken) + "村",
                            Level.LARGE)  # fmt: skip
            node.weight = terrain
            villages.append(node)

    mediums: list[_Node] = []
    for village, n in zip(villages, _spread(rng, 640, len(villages), 6), strict=True):
        hamlets: set[str] = set()
        for _ in range(n):
            name = _unique_name(rng, _HAMLET_FIRST, _HAMLET_SECOND, hamlets) + "屯"
            mediums.append(village.add("M", name, Level.MEDIUM, weight=village.weight))
    for community, n in zip(communities, _spread(rng, 99, len(communities), 8), strict=True):
        for _ in range(n):
            name = _unique_name(rng, _COMPOUND_FIRST, _COMPOUND_SECOND, compounds)
            mediums.append(community.add("M", name, Level.MEDIUM, weight=community.weight))
    smalls: list[_Node] = []
    for medium, n in zip(mediums, _spread(rng, 1300, len(mediums), 5), strict=True):
        for i in range(1, n + 1):
            name = f"{medium.name}第{_ordinal(i)}网格"
            smalls.append(medium.add("S", name, Level.SMALL, weight=medium.weight))
    micros: list[_Node] = []
    per_small = -(-micro_grids // len(smalls))
    for small, n in zip(smalls, _spread(rng, micro_grids, len(smalls), max(8, 2 * per_small)), strict=True):
        urban = small.weight < 0.5
        for i in range(1, n + 1):
            node = small.add("W", f"{small.name}{i}号微网格", Level.MICRO)
            node.weight = small.weight * rng.uniform(0.6, 1.4)
            if urban:
                _fill(node, rng, (max(1, 60 * 4891 // micro_grids), max(2, 160 * 4891 // micro_grids)), (2.6, 3.2))
            else:
                _fill(node, rng, (max(1, 25 * 4891 // micro_grids), max(2, 85 * 4891 // micro_grids)), (3.0, 3.8))
            micros.append(node)

    _pingnan_dedicated(rng, towns, villages, communities)
    _choose_first_leaders(rng, county, PINGNAN_FIGURES["first_leaders"])
    _central_households(
        rng,
        county,
        micros,
        PINGNAN_FIGURES["central_households"],
        PINGNAN_FIGURES["linked_households"],
    )
    return county


def _pingnan_dense(rng: random.Random) -> _County:
    """Pingnan with its small grids drawn down to ten times the micro grids (48,910): a county of 49,062
    leaf polygons, for the wall's level of detail at that size (bench.bench_maps --dense). The figures
    above micro grids are Pingnan's; each finer cell holds a tenth of the households."""
    return _pingnan(rng, micro_grids=48_910)


def _pingnan_dedicated(
    rng: random.Random,
    towns: dict[str, _Node],
    villages: Sequence[_Node],
    communities: Sequence[_Node],
) -> None:
    """The 165 dedicated grids of Pingnan where their sites are (see `_pingnan`)."""
    dedicated = GridKind.DEDICATED
    schools: list[_Node] = []
    for town_name, park_name in _PINGNAN_PARKS:  # 3 large + 9 small
        park = towns[town_name].add("D", park_name, Level.LARGE, dedicated)
        for i in range(1, 4):
            zone = park.add("D", f"{park_name}{_ordinal(i)}区", Level.SMALL, dedicated, 0.5)
            _site(zone, rng, (600, 2500))
    seat = towns[_PINGNAN_TOWNS[0][0]]
    for name, people in _PINGNAN_COUNTY_SITES:  # 8 small
        site = seat.add("D", name, Level.SMALL, dedicated, 0.12)
        _site(site, rng, people)
        if name in _SCHOOLS_WITH_ZONES:
            schools.append(site)
    town_schools: list[_Node] = []
    for town_name, town in towns.items():  # 63 small
        clinic = "社区卫生服务中心" if town_name.endswith("街道") else "卫生院"
        for suffix, weight, people in (
            ("农贸市场", 0.05, (200, 700)),
            (clinic, 0.05, (60, 250)),
            ("初级中学", 0.12, (800, 2200)),
        ):
            site = town.add("D", f"{town_name}{suffix}", Level.SMALL, dedicated, weight)
            _site(site, rng, people)
            if suffix == "初级中学":
                town_schools.append(site)
    schools.extend(rng.sample(town_schools, 8))
    for school in sorted(schools, key=lambda n: n.code):  # 20 micro
        for area in ("教学区", "宿舍区"):
            part = school.add("D", f"{school.name}{area}", Level.MICRO, dedicated, 0.06)
            part.population = school.population // 2
            part.households = school.households // 2
        school.population = school.households = 0
    hosts = rng.sample(list(villages) + list(communities), 62)  # 62 small
    for host in sorted(hosts, key=lambda n: n.code):
        stem = host.name.removesuffix("村").removesuffix("社区")
        if host.name.endswith("社区"):
            kind_name, weight, people = rng.choice((("幼儿园", 0.5, (150, 400)), ("综合市场", 0.5, (100, 400))))
        else:
            kind_name, weight, people = rng.choice(
                (
                    ("小学", 0.08, (150, 600)),
                    ("敬老院", 0.05, (30, 120)),
                    ("文化广场", 0.1, (50, 300)),
                    ("卫生室", 0.03, (20, 80)),
                )
            )
        site = host.add("D", f"{stem}{kind_name}", Level.SMALL, dedicated, weight * host.weight)
        _site(site, rng, people)


_DONGCHANG_STREETS = (("老站街道", 7), ("民主街道", 6), ("东昌街道", 6), ("新站街道", 6),
                      ("龙泉街道", 5), ("团结街道", 5))  # fmt: skip
_DONGCHANG_COMMUNITIES = _words(
    "站前 铁路 江沿 滨江 民主 胜利 光明 繁荣 新华 东昌 东岭 金厂 新站 龙泉 团结 建设 和平 振兴"
    " 育才 春光 前进 向阳 长青 友好 幸福 玉皇 南山 北山 东风 明珠 江南 西江 金马 安平 惠民"
)


def _dongchang(rng: random.Random) -> _County:
    """Dongchang district (东昌区, Tonghua): the urban profile.

    * District ``DC`` with 6 streets (街道) ``DC01``–``DC06``.
    * 35 communities as large grids (one per grid party–mass service station, 35).
    * 457 urban community grids as small grids directly under their community, each with
      its one grid leader and a first small-grid leader (no vacancies).
    * 2,710 micro grids: one per building (the 2,710 building leaders), 1–12 per grid.
    * Central households are not published: one per building, linking 5–10 households.
    * About 300,000 residents.
    """
    county = _County(
        _Node("DC", "东昌区", Level.COUNTY, GridKind.COMPREHENSIVE),
        _SURNAMES_NORTH,
        _outline(rng, (125.93, 41.73), (0.13, 0.09)),
    )
    communities: list[_Node] = []
    names = iter(_DONGCHANG_COMMUNITIES)
    for street_name, n in _DONGCHANG_STREETS:
        street = county.root.add("", street_name, Level.TOWN)
        for _ in range(n):
            communities.append(street.add("L", f"{next(names)}社区", Level.LARGE))
    smalls: list[_Node] = []
    for community, n in zip(communities, _spread(rng, 457, len(communities), 20), strict=True):
        for i in range(1, n + 1):
            smalls.append(community.add("S", f"{community.name}第{i}网格", Level.SMALL))
    micros: list[_Node] = []
    for small, n in zip(smalls, _spread(rng, 2710, len(smalls), 12), strict=True):
        owner = small.parent
        assert owner is not None
        for _ in range(n):
            building = sum(len(c.children) for c in owner.children) + 1
            node = small.add("W", f"{owner.name}{building}号楼", Level.MICRO)
            node.weight = rng.uniform(0.6, 1.4)
            _fill(node, rng, (24, 72), (2.3, 2.9))
            micros.append(node)
    _choose_first_leaders(rng, county, None)
    linked = sum(rng.randint(5, 10) for _ in micros)
    _central_households(rng, county, micros, len(micros), linked)
    return county


def _qingcao(rng: random.Random) -> _County:
    """Qingcao town (青草镇, Tongcheng): the three-level profile.

    * Root ``QC`` (桐城市, the city the town belongs to) with the single town ``QC01`` 青草镇.
    * Grid levels 1 / 2 / 3 = large / medium / small = 22 / 50 / 165 (villages and the town
      community; 片 areas; grids), and nothing below: the town publishes three levels, so the
      small grids are the leaves (reports land on them) and there are no micro grids.
    * Every small grid has a first small-grid leader; central households, which hang under
      micro grids, are not published and not generated.
    * About 45,000 residents.
    """
    county = _County(
        _Node("QC", "桐城市", Level.COUNTY, GridKind.COMPREHENSIVE),
        _SURNAMES_EAST,
        _outline(rng, (116.93, 31.12), (0.06, 0.05)),
    )
    town = county.root.add("", "青草镇", Level.TOWN)
    taken: set[str] = set()
    larges = [town.add("L", "青草社区", Level.LARGE)]
    for _ in range(21):
        name = _unique_name(rng, _PLACE_FIRST, _PLACE_SECOND, taken) + "村"
        larges.append(town.add("L", name, Level.LARGE))
    mediums: list[_Node] = []
    for large, n in zip(larges, _spread(rng, 50, len(larges), 4), strict=True):
        stem = large.name.removesuffix("村").removesuffix("社区")
        for i in range(1, n + 1):
            mediums.append(large.add("M", f"{stem}{_ordinal(i)}片", Level.MEDIUM))
    for medium, n in zip(mediums, _spread(rng, 165, len(mediums), 6), strict=True):
        for i in range(1, n + 1):
            node = medium.add("S", f"{medium.name}第{_ordinal(i)}网格", Level.SMALL)
            node.weight = rng.uniform(0.6, 1.4)
            _fill(node, rng, (60, 100), (2.9, 3.5))
    _choose_first_leaders(rng, county, None)
    return county


@dataclass(frozen=True)
class Profile:
    """A demo county: its code, Chinese name and how it maps FIGURES.md."""

    name: str
    county: str
    title: str
    build: Callable[[random.Random], _County]

    @property
    def description(self) -> str:
        """The builder's docstring: the mapping of the published figures."""
        return (self.build.__doc__ or "").strip()


PROFILES: dict[str, Profile] = {
    "pingnan": Profile("pingnan", "PN", "平南县", _pingnan),
    "dongchang": Profile("dongchang", "DC", "东昌区", _dongchang),
    "qingcao": Profile("qingcao", "QC", "青草镇", _qingcao),
    "pingnan-dense": Profile("pingnan-dense", "PN", "平南县", _pingnan_dense),
}


# ---------------------------------------------------------------------------- polygons
#
# Polygons are open rings of (lon, lat) tuples while being cut. A straight cut that crosses a
# ring exactly twice splits it into two simple rings sharing the two new vertices (the very
# same floats, so neighbours stay watertight); that is done in plain Python. Only when a
# cut would cross more often (a concave county edge) does shapely split it instead.

Ring = list[tuple[float, float]]


def _outline(rng: random.Random, centre: tuple[float, float], radii: tuple[float, float]) -> Ring:
    """An irregular, county-like blob: an ellipse bent by a few random low harmonics."""
    waves = [(k, rng.uniform(0.03, 0.09) / k**0.5, rng.uniform(0, 2 * math.pi)) for k in (2, 3, 5)]
    ring: Ring = []
    n = 28
    for i in range(n):
        a = 2 * math.pi * i / n
        r = 1 + sum(amp * math.sin(k * a + phase) for k, amp, phase in waves)
        r *= rng.uniform(0.96, 1.04)
        r = min(max(r, 0.8), 1.15)
        ring.append((centre[0] + radii[0] * r * math.cos(a), centre[1] + radii[1] * r * math.sin(a)))
    return ring  # counter-clockwise


def _area(ring: Ring) -> float:
    """Signed area (positive when counter-clockwise), shoelace about the first vertex."""
    x0, y0 = ring[0]
    total = 0.0
    for i in range(1, len(ring) - 1):
        (x1, y1), (x2, y2) = ring[i], ring[i + 1]
        total += (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    return total / 2


def _perimeter(ring: Ring) -> float:
    """Length of the closed ring."""
    return sum(math.dist(ring[i - 1], ring[i]) for i in range(len(ring)))


def _long_axis(ring: Ring) -> float:
    """Angle of the principal axis of the polygon's area (its long direction)."""
    x0, y0 = ring[0]
    pts = [(x - x0, y - y0) for x, y in ring]
    a = sxx = syy = sxy = cx = cy = 0.0
    for i in range(len(pts)):
        (xa, ya), (xb, yb) = pts[i - 1], pts[i]
        cross = xa * yb - xb * ya
        a += cross
        cx += (xa + xb) * cross
        cy += (ya + yb) * cross
        sxx += (xa * xa + xa * xb + xb * xb) * cross
        syy += (ya * ya + ya * yb + yb * yb) * cross
        sxy += (xa * yb + 2 * xa * ya + 2 * xb * yb + xb * ya) * cross
    a /= 2
    cx, cy = cx / (6 * a), cy / (6 * a)
    ixx = sxx / 12 - a * cx * cx
    iyy = syy / 12 - a * cy * cy
    ixy = sxy / 24 - a * cx * cy
    sign = 1.0 if a > 0 else -1.0  # a clockwise ring has all moments negated
    return 0.5 * math.atan2(sign * 2 * ixy, sign * (ixx - iyy))


def _area_below(ring: Ring, proj: Sequence[float], t: float) -> float:
    """Area of the part of a simple polygon whose projection is ≤ t (one half-plane clip)."""
    out: Ring = []
    n = len(ring)
    for i in range(n):
        j = (i + 1) % n
        a, b = proj[i] - t, proj[j] - t
        if a <= 0:
            out.append(ring[i])
        if (a <= 0) != (b <= 0):
            s = a / (a - b)
            (x0, y0), (x1, y1) = ring[i], ring[j]
            out.append((x0 + s * (x1 - x0), y0 + s * (y1 - y0)))
    return abs(_area(out)) if len(out) >= 3 else 0.0


def _offset(ring: Ring, proj: Sequence[float], target: float) -> float:
    """Where to cut along the projection so that `target` area lies below.

    The area below t is piecewise quadratic in t, with pieces between vertex projections:
    find the piece by bisection over the vertices, then solve its quadratic exactly.
    """
    ts = sorted(set(proj))
    lo, hi = 0, len(ts) - 1
    a_lo, a_hi = 0.0, _area_below(ring, proj, ts[-1])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        a_mid = _area_below(ring, proj, ts[mid])
        if a_mid < target:
            lo, a_lo = mid, a_mid
        else:
            hi, a_hi = mid, a_mid
    t0, t1 = ts[lo], ts[hi]
    a_mid = _area_below(ring, proj, (t0 + t1) / 2)
    # A(u) = a_lo + b·u + c·u² on u ∈ [0, 1] through the three known areas.
    c = 2 * (a_hi - 2 * a_mid + a_lo)
    b = a_hi - a_lo - c
    q = max(target - a_lo, 0.0)
    root = math.sqrt(max(b * b + 4 * c * q, 0.0))
    u = 2 * q / (b + root) if b + root > 0 else 0.5
    return t0 + min(max(u, 0.0), 1.0) * (t1 - t0)


def _dedupe(ring: Ring) -> Ring:
    """Drop consecutive repeated points (a cut through a vertex repeats it)."""
    out = [p for i, p in enumerate(ring) if p != ring[i - 1]]
    return out if out else ring[:1]


def _try_cut(ring: Ring, angle: float, frac: float) -> tuple[Ring, Ring] | None:
    """Cut across `angle` leaving `frac` of the area on the low side; None unless two pieces."""
    nx, ny = math.cos(angle), math.sin(angle)
    proj = [x * nx + y * ny for x, y in ring]
    t = _offset(ring, proj, frac * abs(_area(ring)))
    below = [p - t <= 0 for p in proj]
    crossings = sum(1 for i in range(len(ring)) if below[i] != below[i - 1])
    if crossings == 2:
        low: Ring = []
        high: Ring = []
        n = len(ring)
        for i in range(n):
            j = (i + 1) % n
            (low if below[i] else high).append(ring[i])
            if below[i] != below[j]:
                s = (proj[i] - t) / (proj[i] - proj[j])
                (x0, y0), (x1, y1) = ring[i], ring[j]
                point = (x0 + s * (x1 - x0), y0 + s * (y1 - y0))
                low.append(point)
                high.append(point)
        low, high = _dedupe(low), _dedupe(high)
        return (low, high) if len(low) >= 3 and len(high) >= 3 else None
    return _shapely_cut(ring, nx, ny, t)


def _shapely_cut(ring: Ring, nx: float, ny: float, t: float) -> tuple[Ring, Ring] | None:
    """The general cut (a concave ring crossed more than twice), kept only if one piece a side."""
    poly = Polygon(ring)
    minx, miny, maxx, maxy = poly.bounds
    reach = 2 * (maxx - minx + maxy - miny)
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    shift = t - (mx * nx + my * ny)  # the bbox centre moved onto the cut line
    cx, cy = mx + shift * nx, my + shift * ny
    line = LineString([(cx + ny * reach, cy - nx * reach), (cx - ny * reach, cy + nx * reach)])
    low: list[Ring] = []
    high: list[Ring] = []
    for piece in split(poly, line).geoms:
        if not isinstance(piece, Polygon) or piece.is_empty:
            return None
        p = piece.representative_point()
        coords = list(orient(piece, 1.0).exterior.coords)[:-1]
        (low if p.x * nx + p.y * ny < t else high).append(coords)
    if len(low) != 1 or len(high) != 1:
        return None
    return low[0], high[0]


def _cut(ring: Ring, frac: float, rng: random.Random) -> tuple[Ring, Ring]:
    """Two pieces with areas frac : 1-frac, single pieces, the most compact of a few directions."""
    base = _long_axis(ring) + rng.uniform(-0.3, 0.3)
    spread = (0.0, 0.35, -0.35, 0.7, -0.7) if 0.25 <= frac <= 0.75 else _EVERY_WAY
    best: tuple[float, tuple[Ring, Ring]] | None = None
    for delta in spread:
        pieces = _try_cut(ring, base + delta, frac)
        if pieces is None:
            continue
        score = max(_perimeter(p) ** 2 / abs(_area(p)) for p in pieces)
        if best is None or score < best[0]:
            best = (score, pieces)
    if best is None:
        for i in range(16):  # a concave ring: any direction that leaves one piece a side
            pieces = _try_cut(ring, base + i * math.pi / 16, frac)
            if pieces is not None:
                return pieces
        raise RuntimeError("no straight cut splits this polygon in two")  # pragma: no cover
    return best[1]


_EVERY_WAY = tuple(i * math.pi / 8 for i in range(8))


def _partition(ring: Ring, weights: Sequence[float], rng: random.Random) -> list[Ring]:
    """Tile `ring` with len(weights) rings of areas proportional to `weights`, in order."""
    if len(weights) == 1:
        return [ring]
    total = sum(weights)
    acc, at, gap = 0.0, 1, math.inf
    for i in range(1, len(weights)):
        acc += weights[i - 1]
        if abs(acc - total / 2) < gap:
            at, gap = i, abs(acc - total / 2)
    low, high = _cut(ring, sum(weights[:at]) / total, rng)
    return _partition(low, weights[:at], rng) + _partition(high, weights[at:], rng)


def _to_geojson(ring: Ring, decimals: int = 5) -> Geometry:
    """Counter-clockwise closed ring rounded to `decimals`, repeated points dropped."""
    if _area(ring) < 0:
        ring = ring[::-1]
    out: list[list[float]] = []
    for x, y in ring:
        point = [round(x, decimals), round(y, decimals)]
        if not out or out[-1] != point:
            out.append(point)
    if out[0] == out[-1] and len(out) > 1:
        out.pop()
    out.append(out[0])
    return {"type": "Polygon", "coordinates": [out]}


def _polygons(county: _County, rng: random.Random, real_outline: bool = False) -> dict[str, Geometry]:
    """Split the outline down the tree: every node's children tile the node's polygon."""
    weight: dict[str, float] = {}
    for node in reversed(list(county.root.walk())):
        weight[node.code] = sum(weight[c.code] for c in node.children) if node.children else (node.weight or 1.0)
    shapes: dict[str, Ring] = {county.root.code: county.outline}
    for node in county.root.walk():
        if node.children:
            pieces = _partition(shapes[node.code], [weight[c.code] for c in node.children], rng)
            for child, piece in zip(node.children, pieces, strict=True):
                shapes[child.code] = piece
    if real_outline:
        noded = _node(list(shapes.values()))
        return {code: _to_geojson(ring, OUTLINE_DECIMALS) for code, ring in zip(shapes, noded, strict=True)}
    return {code: _to_geojson(ring) for code, ring in shapes.items()}


OUTLINE_DECIMALS = 7
_ON_EDGE_DEG = 1e-9  # a vertex this close to an edge lies on it (cut points are computed on it)


def _node(rings: Sequence[Ring]) -> list[Ring]:
    """Every ring with the vertices of all rings that lie on its edges inserted, in order along each edge."""
    arrays = [np.asarray(r, dtype=np.float64) for r in rings]
    starts = np.concatenate(arrays)
    ends = np.concatenate([np.roll(a, -1, axis=0) for a in arrays])
    points = np.unique(starts, axis=0)
    tree = shapely.STRtree(shapely.points(points))
    segments = shapely.linestrings(np.stack([starts, ends], axis=1))
    seg, pt = tree.query(segments, predicate="dwithin", distance=_ON_EDGE_DEG)
    a, b, p = starts[seg], ends[seg], points[pt]
    inner = ~((p == a).all(axis=1) | (p == b).all(axis=1))
    seg, a, b, p = seg[inner], a[inner], b[inner], p[inner]
    d = b - a
    t = ((p - a) * d).sum(axis=1) / np.maximum((d * d).sum(axis=1), 1e-300)
    order = np.lexsort((t, seg))
    extra: dict[int, list[tuple[float, float]]] = {}
    for k in order.tolist():
        extra.setdefault(int(seg[k]), []).append((float(p[k, 0]), float(p[k, 1])))
    out: list[Ring] = []
    base = 0
    for ring in rings:
        noded: Ring = []
        for i, vertex in enumerate(ring):
            noded.append(vertex)
            noded.extend(extra.get(base + i, ()))
        out.append(noded)
        base += len(ring)
    return out


# ---------------------------------------------------------------------------- public


_COUNTY_CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")


def generate(
    profile: str,
    seed: int = 7,
    *,
    county_code: str | None = None,
    county_name: str | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
    geometry: bool = True,
    outline: Sequence[tuple[float, float]] | None = None,
) -> tuple[GridTree, dict[str, Geometry]]:
    """A synthetic county for `profile` and its polygons; same arguments, same result.

    `county_code` replaces the profile's root code (``PN``) as the prefix of every code, so
    many counties of one shape can share a Redis (each town keeps its own hash tag);
    `county_name` renames the root; `offset` moves the county by (degrees east, north);
    ``geometry=False`` skips the polygons (most of the time) and returns ``{}`` — the tree
    is the same either way; `outline` (an open ring of lon, lat) is tiled instead of the
    profile's blob, the tree unchanged. The defaults give the profile's county byte for byte.
    """
    spec = PROFILES.get(profile)
    if spec is None:
        raise InvalidRequest(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}", field="profile")
    if county_code is not None and not _COUNTY_CODE_RE.fullmatch(county_code):
        raise InvalidRequest(
            f"county code {county_code!r}: a letter, then up to 15 letters or digits", field="county_code"
        )
    rng = random.Random(seed)
    county = spec.build(rng)
    if county_code is not None and county_code != county.root.code:
        _recode(county, county_code)
    if county_name:
        county.root.name = county_name
    if outline is not None:
        county.outline = _outline_ring(outline)
    if offset != (0.0, 0.0):
        county.outline = [(x + offset[0], y + offset[1]) for x, y in county.outline]
    for node in county.root.walk():  # registry order = code order (codes sort in pre-order)
        node.children.sort(key=lambda c: c.code)
    nodes = list(county.root.walk())
    for node in reversed(nodes):  # children before parents: exact sums upwards
        if node.children:
            node.households = sum(c.households for c in node.children)
            node.population = sum(c.population for c in node.children)
    for node in nodes:
        node.leader = _person(rng, county.surnames)
        node.phone = _phone(rng)
    try:
        shapes = _polygons(county, rng, real_outline=outline is not None) if geometry else {}
    except RuntimeError as exc:  # only a given outline can be too contorted for straight cuts
        raise InvalidRequest(f"cannot tile this outline: {exc}", field="outline") from None
    grids = [
        Grid(
            code=n.code,
            name=n.name,
            level=n.level,
            kind=n.kind,
            parent=n.parent.code if n.parent else None,
            households=n.households,
            population=n.population,
            first_leader=n.first_leader,
            leader=n.leader,
            phone=n.phone,
        )
        for n in nodes
    ]
    return GridTree.build(grids, county.central_households), shapes


def _outline_ring(outline: Sequence[tuple[float, float]]) -> Ring:
    """A given outline as an open, counter-clockwise, simple ring of floats; refused when not one."""
    ring = _dedupe([(float(x), float(y)) for x, y in outline])
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 3 or not Polygon(ring).is_valid or abs(_area(ring)) == 0:
        raise InvalidRequest("the outline must be one simple polygon (no self-crossing)", field="outline")
    return ring if _area(ring) > 0 else ring[::-1]


def _recode(county: _County, code: str) -> None:
    """Swap the root code for `code` in every code (grids and central households); order is kept."""
    old = county.root.code
    for node in county.root.walk():
        node.code = code + node.code[len(old):]
    county.central_households = [
        CentralHousehold(code + h.code[len(old):], code + h.micro_grid[len(old):], h.head, h.linked_households)
        for h in county.central_households
    ]


PROVINCE_COLUMNS = 10
"""Counties of a generated province sit on a lattice this many counties wide."""


def province_county(
    k: int, profile: str = "pingnan", *, prefix: str = "P", geometry: bool = True
) -> tuple[GridTree, dict[str, Geometry]]:
    """County number `k` (from 1) of a generated province: code ``P001``…, its own seed and place.

    Every county has the profile's exact totals (FIGURES.md) but its own draw (seed `k`),
    a distinct code — so distinct town hash tags — and a place on a lattice of
    `PROVINCE_COLUMNS` counties so that the polygons of neighbours do not overlap.
    """
    if k < 1:
        raise InvalidRequest("county numbers start at 1", field="k")
    spec = PROFILES.get(profile)
    title = spec.title if spec else profile
    col, row = (k - 1) % PROVINCE_COLUMNS, (k - 1) // PROVINCE_COLUMNS
    return generate(
        profile,
        seed=k,
        county_code=f"{prefix}{k:03d}",
        county_name=f"{title}（{k}）",
        offset=(round(col * 0.65, 5), round(row * 0.8, 5)),
        geometry=geometry,
    )


def generate_province(
    counties: int, profile: str = "pingnan", *, prefix: str = "P", geometry: bool = True
) -> Iterator[tuple[GridTree, dict[str, Geometry]]]:
    """Counties 1…`counties` of a generated province, one at a time (each is a few MB)."""
    for k in range(1, counties + 1):
        yield province_county(k, profile, prefix=prefix, geometry=geometry)


def summary(tree: GridTree) -> dict[str, Any]:
    """Headline counts of a tree, to compare with FIGURES.md (tests) and print (CLI)."""
    grids = [g for g in tree.grids.values() if g.level in GRID_LEVELS]
    smalls = [g for g in grids if g.level == Level.SMALL]
    leaders = sum(1 for g in smalls if g.first_leader)
    county = tree.county if tree.root else None
    return {
        "county": tree.root,
        "name": county.name if county else "",
        "towns": tree.count(Level.TOWN),
        "grids": len(grids),
        "comprehensive": sum(1 for g in grids if g.kind == GridKind.COMPREHENSIVE),
        "dedicated": sum(1 for g in grids if g.kind == GridKind.DEDICATED),
        "by_level": {level.value: {kind.value: tree.count(level, kind) for kind in GridKind} for level in GRID_LEVELS},
        "small_grids": len(smalls),
        "first_leaders": leaders,
        "vacancies": len(smalls) - leaders,
        "central_households": len(tree.central_households),
        "linked_households": sum(h.linked_households for h in tree.central_households),
        "households": county.households if county else 0,
        "population": county.population if county else 0,
    }
