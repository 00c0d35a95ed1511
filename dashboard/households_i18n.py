"""Strings of the households views (issue 16, DESIGN §7.3): field list, wall panel, console card, report.

One table for every page, registered on import: the statuses under ``hh.status.*``
(GLOSSARY.md: 已联系 / 已转移 / 原地安全 / 不在家 / 拒绝转移 / 联系不上 / 未覆盖), the
vulnerable groups under ``hh.vuln.*``, and each view's texts under its own prefix.
"""

from __future__ import annotations

from dashboard.i18n import register

__all__ = ["STATUSES", "VULNERABLE"]

STATUSES = ("reached", "evacuated", "safe_in_place", "absent", "refused", "unreachable")
"""The statuses a household can be given in an operation (DESIGN §7.3), in the order of the buttons."""

VULNERABLE = ("elderly_alone", "disabled", "bedridden", "child", "pregnant")

register({
    "hh.status.reached": ("已联系", "Reached"),
    "hh.status.evacuated": ("已转移", "Evacuated"),
    "hh.status.safe_in_place": ("原地安全", "Safe in place"),
    "hh.status.absent": ("不在家", "Absent"),
    "hh.status.refused": ("拒绝转移", "Refused"),
    "hh.status.unreachable": ("联系不上", "Unreachable"),
    "hh.status.unreached": ("未覆盖", "Unreached"),
    "hh.vuln.elderly_alone": ("独居老人", "Elderly alone"),
    "hh.vuln.disabled": ("残疾人", "Disabled"),
    "hh.vuln.bedridden": ("卧床", "Bedridden"),
    "hh.vuln.child": ("儿童", "Child"),
    "hh.vuln.pregnant": ("孕产妇", "Pregnant"),
    "hh.household": ("住户", "Household"),
    "hh.households": ("户", "households"),
    "hh.vulnerable": ("重点人群户", "Vulnerable household"),
    "hh.reach": ("入户覆盖", "Household reach"),
    # field page (/field): the list a central household or grid worker works through
    "field.hh.title": ("住户清单 · 不漏一户", "Households · nobody missed"),
    "field.hh.summary": ("共 {total} 户", "of {total} households"),
    "field.hh.pending": ("{n} 户待发送", "{n} waiting to send"),
    "field.hh.vulnerable_unreached": ("其中重点人群户 {n} 户未覆盖", "{n} vulnerable household(s) unreached"),
    "field.hh.filter.all": ("全部", "All"),
    "field.hh.filter.unreached": ("未覆盖", "Unreached"),
    "field.hh.filter.vulnerable": ("重点人群", "Vulnerable"),
    "field.hh.filter.central": ("中心户 {code}", "Central household {code}"),
    "field.hh.size": ("{n} 人", "{n} people"),
    "field.hh.call": ("拨打", "Call"),
    "field.hh.correct": ("更正", "Correct"),
    "field.hh.cancel": ("取消", "Cancel"),
    "field.hh.queued": ("待发送", "waiting to send"),
    "field.hh.sent": ("已发送", "sent"),
    "field.hh.refused": ("被拒绝：{reason}", "refused: {reason}"),
    "field.hh.loading": ("正在加载住户…", "Loading households…"),
    "field.hh.none": ("该网格没有登记住户", "No household is registered in this grid"),
    "field.hh.unavailable": ("住户清单暂不可用", "The household list is not available"),
    "field.hh.cached": ("离线清单，更新于 {t}", "Offline list from {t}"),
    "field.hh.more": ("另有 {n} 户未列出", "{n} more households not listed"),
    "field.hh.mark": ("{head}：{status}", "{head}: {status}"),
    "field.hh.choose": ("选择该户状态", "Choose this household's status"),
    # the wall (/)
    "board.hh.title": ("不漏一户 · 入户覆盖", "Nobody missed · household reach"),
    "board.hh.unreached": ("未覆盖住户", "Households unreached"),
    "board.hh.reach_of": ("覆盖 {pct}%（{done}/{total} 户）", "reach {pct}% ({done}/{total})"),
    "board.hh.by_town": ("各{level}入户覆盖", "Household reach by {level}"),
    "board.hh.vulnerable_first": ("重点人群未覆盖（优先）", "Vulnerable unreached first"),
    "board.hh.vulnerable_n": ("{n} 户", "{n}"),
    "board.hh.none_left": ("重点人群户已全部覆盖", "Every vulnerable household reached"),
    "board.hh.no_roster": ("该范围未导入住户清单", "No household roster for this scope"),
    "board.hh.more": ("另有 {n} 户", "{n} more"),
    "board.hh.map": ("地图：入户覆盖率", "Map: household reach"),
    "board.hh.map_of": ("地图：{name} · 入户覆盖率（有状态户 / 住户）",
                        "Map: {name} · household reach (with a status / all)"),
    "board.hh.tip": ("入户覆盖 {done} / {total} 户 · {pct}%", "Reach {done} / {total} households · {pct}%"),
    "board.hh.tip_none": ("该网格无住户清单", "No household roster in this grid"),
    "board.hh.sum_check": ("各{level}已覆盖之和 = {parent}已覆盖", "Σ reached by {level} = reached in {parent}"),
    "board.measure": ("地图着色", "Map colours"),
    "board.measure.counter": ("任务进度", "Progress"),
    "board.measure.reach": ("入户覆盖", "Household reach"),
    # console: unreached households of a scope, for phoning
    "console.hh.title": ("未覆盖住户（电话联系）", "Unreached households (to phone)"),
    "console.hh.pick": ("任务", "Operation"),
    "console.hh.none_op": ("该范围没有进行中的任务", "No open operation in this scope"),
    "console.hh.summary": (
        "{grid}：共 {total} 户，未覆盖 {unreached} 户（重点人群 {vulnerable} 户）",
        "{grid}: {total} households, {unreached} unreached ({vulnerable} vulnerable)",
    ),
    "console.hh.all_reached": ("该范围住户已全部覆盖", "Every household of this scope is reached"),
    "console.hh.shown": ("列出 {n} 户，重点人群在前", "{n} listed, vulnerable first"),
    "console.hh.col.household": ("户号", "Household"),
    "console.hh.col.grid": ("微网格", "Micro grid"),
    "console.hh.col.head": ("户主", "Head"),
    "console.hh.col.phone": ("电话", "Phone"),
    "console.hh.col.address": ("地址", "Address"),
    "console.hh.col.size": ("人数", "People"),
    "console.hh.col.vulnerable": ("重点人群", "Vulnerable"),
    "console.hh.error": ("无法读取住户清单：{reason}", "Cannot read the household list: {reason}"),
    "console.hh.refresh": ("刷新", "Refresh"),
})
