"""The household roster file (``households.csv``): read with errors by line, generated for demos.

Columns (DESIGN §7.3): ``code,micro_grid,central_household,address,head,size,phone,vulnerable``.
``micro_grid`` names the leaf grid the household lives in — a micro grid, or a small or
dedicated grid that has no micro grids (Qingcao's small grids, Pingnan's dedicated
sites); ``central_household`` is empty or the code of a central household of the
loaded registry, on the same grid; ``vulnerable`` is ``;``-separated
(`command.households.Vulnerability`). Every row is checked against the county's
tree; one bad row refuses the whole file (`RegistryError`, every bad row by line),
so nothing is half-loaded.

*Generated rosters* (`generate_households`) match the tree exactly: each leaf grid
gets as many households as its ``households`` figure (so Pingnan's 310,326), the
people of a grid are spread over its households, and each central household links
exactly its ``linked_households`` of its own grid (Pingnan: 4,870 linking 32,737).
Vulnerable households come at plausible rural rates (`VULNERABLE_RATES`). Everything
personal is fictitious: heads are drawn from a name pool and every phone number lies
in the ``100`` range, which no Chinese carrier issues (mobile numbers start 13–19).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from command import bounds
from command.errors import InvalidRequest, RegistryError, RowError
from command.grids import GridTree
from command.households import Household, Vulnerability
from command.registry import _csv_text, _read_rows, _write_atomic

__all__ = [
    "FICTITIOUS_PHONE_PREFIX",
    "HOUSEHOLDS_CSV",
    "HOUSEHOLD_COLUMNS",
    "VULNERABLE_RATES",
    "generate_households",
    "is_household_file",
    "load_households",
    "parse_households",
    "write_households",
]

HOUSEHOLDS_CSV = "households.csv"
HOUSEHOLD_COLUMNS = ("code", "micro_grid", "central_household", "address", "head", "size", "phone", "vulnerable")
_REQUIRED = ("code", "micro_grid")
MAX_CODE = 64
MAX_PHONE = 20
FICTITIOUS_PHONE_PREFIX = "100"
"""Generated phone numbers are ``100`` + 8 digits: no Chinese carrier issues numbers in that range."""

VULNERABLE_RATES: Mapping[str, float] = {
    Vulnerability.ELDERLY_ALONE.value: 0.06,  # rural empty-nest elderly living alone
    Vulnerability.DISABLED.value: 0.03,
    Vulnerability.BEDRIDDEN.value: 0.008,
    Vulnerability.CHILD.value: 0.04,  # left-behind children
    Vulnerability.PREGNANT.value: 0.01,
}
"""Share of households with each need in a generated roster (one household may have several)."""

_KNOWN_NEEDS = frozenset(v.value for v in Vulnerability)
_PHONE_CHARS = frozenset("0123456789+- ")
_SURNAMES = "陈李黄梁覃韦莫蒙刘罗张林吴邓周何杨谢钟甘蒋曾冯潘麦卢彭温赖苏王赵孙高马徐朱胡郭"
_GIVEN = "建国华明伟强军平志海秀英丽芳燕玲兰桂春成德文荣光勇红敏静霞斌东林辉新宏凤珍梅金永洪福贵生锋涛杰鹏飞雪琴娟"


def is_household_file(path: str | Path) -> bool:
    """Whether `wartime import` takes this file as a household roster (by its name: households*.csv/.xlsx)."""
    p = Path(path)
    return p.name.lower().startswith("households") and p.suffix.lower() in (".csv", ".xlsx")


def load_households(path: str | Path, tree: GridTree, notes: list[str] | None = None) -> list[Household]:
    """Read and check a roster file against `tree`; every bad row refuses the file (by line)."""
    p = Path(path)
    rows = _read_rows(p, _REQUIRED, HOUSEHOLD_COLUMNS, notes)
    return parse_households(((r.line, r.cells) for r in rows), tree, p.name)


def _line_text(cells: Mapping[str, str], name: str, limit: int, line: int, errors: list[RowError]) -> str:
    """A one-line text cell checked by the bounds (a control character, a surrogate, too long: a bad row)."""
    value = (cells.get(name) or "").strip()
    try:
        return bounds.text(value, name, limit, multiline=False) if value else ""
    except InvalidRequest as exc:
        errors.append(RowError(line, exc.message, name))
        return ""


def parse_households(
    records: Iterable[tuple[int, Mapping[str, str]]], tree: GridTree, source: str = HOUSEHOLDS_CSV
) -> list[Household]:
    """Households from (line, cells) records, every check on every row; all of them or a RegistryError."""
    central = {c.code: c.micro_grid for c in tree.central_households}
    leaves = frozenset(c for c in tree.grids if not tree.children[c])
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    out: list[Household] = []
    line_max = bounds.MAX_LINE
    for line, cells in records:  # the hot loop of a 310,000-row import: cells read inline, checks cheap first
        before = len(errors)
        get = cells.get
        code = (get("code") or "").strip()
        if not (code.isprintable() and len(code) <= MAX_CODE):
            code = _line_text(cells, "code", MAX_CODE, line, errors)
        if not code and len(errors) == before:
            errors.append(RowError(line, "code is required", "code"))
        elif code in seen:
            errors.append(RowError(line, f"duplicate code {code} (first on line {seen[code]})", "code"))
        elif code:
            seen[code] = line
        grid = (get("micro_grid") or "").strip()
        if grid not in leaves:
            if not grid:
                errors.append(RowError(line, "micro_grid is required", "micro_grid"))
            elif grid not in tree:
                errors.append(RowError(line, f"unknown micro grid {grid}", "micro_grid"))
            else:
                errors.append(RowError(line, f"{grid} has sub-grids; a household lives in a micro grid "
                                             "(or a grid with none below it)", "micro_grid"))
        ch = (get("central_household") or "").strip()
        if ch and ch not in central:
            errors.append(RowError(line, f"unknown central household {ch}", "central_household"))
        elif ch and grid and central[ch] != grid:
            errors.append(RowError(line, f"central household {ch} is in {central[ch]}, not {grid}",
                                   "central_household"))
        address = (get("address") or "").strip()
        if not (address.isprintable() and len(address) <= line_max):
            address = _line_text(cells, "address", line_max, line, errors)
        head = (get("head") or "").strip()
        if not (head.isprintable() and len(head) <= line_max):
            head = _line_text(cells, "head", line_max, line, errors)
        size = 0
        raw_size = (get("size") or "").strip()
        if raw_size:
            if not raw_size.isdigit() or not 0 <= int(raw_size) <= bounds.MAX_HOUSEHOLD_SIZE:
                errors.append(RowError(line, f"size {raw_size!r} is not a whole number of people "
                                             f"0–{bounds.MAX_HOUSEHOLD_SIZE}", "size"))
            else:
                size = int(raw_size)
        phone = (get("phone") or "").strip()
        if phone and not (phone.isdigit() and len(phone) <= MAX_PHONE) and (
                len(phone) > MAX_PHONE or not set(phone) <= _PHONE_CHARS):
            errors.append(RowError(line, f"phone {phone[:MAX_PHONE]!r} is not a phone number", "phone"))
        raw_needs = get("vulnerable") or ""
        needs: tuple[str, ...] = ()
        if raw_needs.strip():
            needs = tuple(dict.fromkeys(n.strip() for n in raw_needs.replace("；", ";").split(";") if n.strip()))
            unknown = [n for n in needs if n not in _KNOWN_NEEDS]
            if unknown:
                errors.append(RowError(line, f"unknown vulnerability {unknown[0]!r} (allowed: "
                                             f"{', '.join(sorted(_KNOWN_NEEDS))})", "vulnerable"))
        if len(errors) == before:
            out.append(Household(code, grid, ch, address, head, size, phone, needs))
    if len(out) > bounds.MAX_HOUSEHOLDS:
        errors.append(RowError(0, f"{len(out)} households; a roster holds at most {bounds.MAX_HOUSEHOLDS}"))
    if errors:
        raise RegistryError(sorted(errors, key=lambda e: e.line), source=source)
    return out


# ---------------------------------------------------------------------------- generating


def _sizes(rng: random.Random, people: int, n: int) -> list[int]:
    """Household sizes summing to the grid's population when that fits 1–8 per household; else drawn."""
    if not n:
        return []
    if not n <= people <= 8 * n:
        return [rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)) for _ in range(n)]
    sizes = [1] * n
    extra = people - n
    while extra:
        i = rng.randrange(n)
        if sizes[i] < 8:
            sizes[i] += 1
            extra -= 1
    return sizes


def generate_households(tree: GridTree, seed: int = 7) -> list[Household]:
    """A fictitious roster consistent with `tree` (see the module docstring); same tree and seed, same rows."""
    rng = random.Random(seed)
    links: dict[str, list[tuple[str, int]]] = {}
    for c in tree.central_households:
        links.setdefault(c.micro_grid, []).append((c.code, c.linked_households))
    out: list[Household] = []
    for code in sorted(tree.grids):
        if tree.children[code]:
            continue
        g = tree[code]
        n = g.households
        width = max(3, len(str(n)))
        sizes = _sizes(rng, g.population, n)
        linked: list[str] = [""] * n
        order = list(range(n))
        rng.shuffle(order)
        at = 0
        for ch, k in links.get(code, []):
            for i in order[at:at + k]:
                linked[i] = ch
            at += k
        for i in range(n):
            needs = tuple(v for v, rate in VULNERABLE_RATES.items() if rng.random() < rate)
            head = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
            out.append(Household(
                code=f"{code}-{i + 1:0{width}d}",
                grid=code,
                central_household=linked[i],
                address=f"{g.name}{i + 1}号",
                head=head,
                size=sizes[i],
                phone=f"{FICTITIOUS_PHONE_PREFIX}{rng.randrange(10**8):08d}",
                vulnerable=needs,
            ))
    return out


def write_households(households: Sequence[Household], out_dir: Path) -> Path:
    """Write ``households.csv`` (byte-stable) into `out_dir`."""
    rows = [
        {"code": h.code, "micro_grid": h.grid, "central_household": h.central_household, "address": h.address,
         "head": h.head, "size": h.size, "phone": h.phone, "vulnerable": ";".join(h.vulnerable)}
        for h in households
    ]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _write_atomic(out / HOUSEHOLDS_CSV, _csv_text(HOUSEHOLD_COLUMNS, rows))
