"""The report's households section (十三、不漏一户): read from the log, laid out for every writer.

`attach(county, report, personal=…)` reads the roster loads and the operation's
household statuses from the town streams, builds `command.report_households`
and hangs it on the report (``report.households``). `section(report, lang)` lays
it out: the scope's reach and minutes to 50 / 90 / 100 %, reach per town, reach
per town over time, and the households never reached at the close.

Names and phones are never in the log. Every writer shows them masked (张*明,
138****1234); only a report attached with ``personal=True`` — the commander's
XLSX, audited by the API — carries them in full, in the XLSX rows only
(`Table.full_rows`).
"""

from __future__ import annotations

import heapq
from typing import Any

import pandas as pd

from command.events import HouseholdsRegistered, HouseholdStatusSet, Recorded, decode
from command.households import STATUSES, mask_name, mask_phone
from command.report import Report
from command.report_households import HouseholdsReport, households_report
from dashboard import households_i18n  # noqa: F401 - registers the statuses' names
from dashboard.i18n import register, t
from dashboard.reports.formatting import fmt_duration, fmt_num, fmt_time, txt
from dashboard.reports.model import Section, Table
from streams.households import HouseholdView
from streams.keys import TownKeys
from streams.log import id_tuple

__all__ = ["attach", "section"]

_WIRES = {HouseholdsRegistered.wire, HouseholdStatusSet.wire}

register({
    "rpt.s.households": ("十三、不漏一户：入户覆盖", "13. Nobody missed: household reach"),
    "rpt.k.hh_total": ("住户总数", "Households"),
    "rpt.k.hh_reached": ("截至结束已覆盖", "Reached by the close"),
    "rpt.k.hh_never": ("始终未覆盖", "Never reached"),
    "rpt.k.hh_minutes": ("覆盖 {pct}% 用时", "Time to {pct} % reach"),
    "rpt.hh.masked_note": (
        "姓名与电话已脱敏；完整信息仅见于指挥长导出的 XLSX。",
        "Names and phones are masked; in full only in the commander's XLSX.",
    ),
    "rpt.c.hh_reach": ("覆盖率 %", "Reach %"),
    "rpt.c.hh_minutes_100": ("全部覆盖用时（分钟）", "Minutes to 100 %"),
    "rpt.c.hh_town": ("乡镇", "Town"),
    "rpt.c.hh_code": ("户号", "Household"),
    "rpt.c.hh_micro": ("微网格", "Micro grid"),
    "rpt.c.hh_head": ("户主", "Head"),
    "rpt.c.hh_phone": ("电话", "Phone"),
    "rpt.c.hh_address": ("地址", "Address"),
    "rpt.c.hh_size": ("人数", "People"),
    "rpt.c.hh_vulnerable": ("重点人群", "Vulnerable"),
    "rpt.sh.hh_towns": ("入户覆盖", "Household reach"),
    "rpt.sh.hh_series": ("覆盖进程", "Reach over time"),
    "rpt.sh.hh_never": ("未覆盖住户", "Never reached"),
})


def _records(county: Any, towns: list[str], until: int) -> list[Recorded]:
    """Roster loads and household statuses of the towns, merged in log order, up to ms `until`."""
    end = f"{until}-18446744073709551615"

    def one(town: str) -> list[Recorded]:
        stream = TownKeys(town).log
        out = []
        for page in county.log.read_raw(stream, "-", end):
            for eid, fields in page:
                wire = fields.get(b"t", fields.get("t"))
                wire = wire.decode() if isinstance(wire, bytes) else wire
                if wire in _WIRES:
                    out.append(decode(eid, fields, stream))
        return out

    return list(heapq.merge(*(one(t) for t in towns), key=lambda r: id_tuple(r.id)))


def _personal(county: Any, never: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """household → (head, phone) of the households never reached, unmasked (`attach` masks them).

    One read of their micro grids' personal data, not a listing per grid (Pingnan: 5,043 round trips).
    """
    wanted = set(never["code"])
    heads = HouseholdView(county.client).people(county.tree, set(never["micro_grid"]))
    return {code: who for code, who in heads.items() if code in wanted}


def attach(county: Any, report: Report, *, personal: bool = False) -> Report:
    """The report with its households section (None when the scope has no roster); names only if `personal`."""
    tree = county.tree
    scope = report.scope
    towns = list(tree.towns) if scope == tree.root else [tree.town_of(scope) or scope]
    end = report.closed_at if report.closed_at is not None else report.as_of
    recs = _records(county, towns, end)
    hh = households_report(recs, tree, report.operation, scope, report.launched_at, end, tuple(STATUSES))
    if hh is not None:
        heads = _personal(county, hh.never) if len(hh.never) else {}
        hh.people = {c: (mask_name(h), mask_phone(p)) for c, (h, p) in heads.items()}
        hh.people_full = heads if personal else None
    report.households = hh
    return report


def _table(key: str, header: list[str], rows: list[list[str]]) -> Table:
    return Table(key, header, rows, pd.DataFrame(rows, columns=header))


def section(r: Report, lang: str) -> Section | None:
    """The households section of a report (None without one)."""
    hh: HouseholdsReport | None = getattr(r, "households", None)
    if hh is None:
        return None
    L = lang
    num, tm = fmt_num, fmt_time
    sec = Section(t("rpt.s.households", L))
    sec.pairs = [
        (t("rpt.k.hh_total", L), num(hh.total)),
        (t("rpt.k.hh_reached", L), f"{num(hh.reached)} ({num(hh.reached * 1000 // hh.total / 10)}%)"),
        (t("rpt.k.hh_never", L), num(hh.total - hh.reached)),
        *[(t(f"hh.status.{s}", L), num(n)) for s, n in hh.by_status.items()],
        *[(t("rpt.k.hh_minutes", L, pct=p), "—" if m is None else t("rpt.k.minutes", L, m=m))
          for p, m in hh.minutes_to.items()],
    ]
    statuses = list(hh.by_status)
    town_header = [t("rpt.c.grid", L), t("rpt.c.name", L), t("rpt.k.hh_total", L), t("rpt.k.hh_reached", L),
                   t("rpt.c.hh_reach", L), t("rpt.c.hh_minutes_100", L), *[t(f"hh.status.{s}", L) for s in statuses]]
    town_rows = [
        [txt(row["grid"]), txt(row["name"]), num(row["total"]), num(row["with_status"]),
         "" if row["pct"] is None else num(row["pct"]),
         "" if row["minutes_to_100"] is None or pd.isna(row["minutes_to_100"]) else num(row["minutes_to_100"]),
         *[num(row[s]) for s in statuses]]
        for row in hh.towns.to_dict("records")
    ]
    sec.tables.append(_table("hh_towns", town_header, town_rows))
    names = dict(zip(hh.towns["grid"], hh.towns["name"], strict=True))
    towns = [c for c in hh.series.columns if c not in ("time", "elapsed")]
    series_header = [t("rpt.c.time", L), t("rpt.c.elapsed", L), *[str(names.get(c, c)) for c in towns]]
    series_rows = [
        [tm(row["time"]), fmt_duration(row["elapsed"], L),
         *["" if row[c] is None or pd.isna(row[c]) else num(row[c]) for c in towns]]
        for row in hh.series.to_dict("records")
    ]
    sec.tables.append(_table("hh_series", series_header, series_rows))
    never_header = [t("rpt.c.hh_code", L), t("rpt.c.hh_town", L), t("rpt.c.hh_micro", L), t("rpt.c.hh_head", L),
                    t("rpt.c.hh_phone", L), t("rpt.c.hh_address", L), t("rpt.c.hh_size", L),
                    t("rpt.c.hh_vulnerable", L)]

    def never_rows(people: dict[str, tuple[str, str]]) -> list[list[str]]:
        out = []
        for row in hh.never.to_dict("records"):
            head, phone = people.get(row["code"], ("", ""))
            groups = [g for g in str(row["vulnerable"] or "").split(";") if g]
            out.append([txt(row["code"]), txt(row["town_name"]), txt(row["micro_name"]), head, phone,
                        txt(row["address"]), num(row["size"]),
                        ("、" if L != "en" else ", ").join(t(f"hh.vuln.{g}", L) for g in groups)])
        return out

    never = _table("hh_never", never_header, never_rows(hh.people))
    if hh.people_full is not None:
        never.full_rows = never_rows(hh.people_full)
    sec.tables.append(never)
    sec.notes.append(t("rpt.hh.masked_note", L))
    return sec
