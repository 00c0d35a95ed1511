"""zh-CN (default) and English: one table per module, one lookup for all.

Each page or component registers its own strings with `register`, so pages do
not edit a shared file; `t(key, lang)` looks a key up and falls back to
Chinese, then to the key itself (a missing translation is visible, not fatal).
Terms follow ../shared/GLOSSARY.md.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT", "LANGUAGES", "lang_of", "register", "t", "table"]


LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"

_TABLE: dict[str, dict[str, str]] = {}


def register(strings: Mapping[str, tuple[str, str]]) -> None:
    """Add strings as key → (中文, English)."""
    for key, (zh, en) in strings.items():
        _TABLE[key] = {"zh-CN": zh, "en": en}


def t(key: str, lang: str | None = None, **fmt: object) -> str:
    """The string for a key in a language (zh-CN when unknown)."""
    row = _TABLE.get(key)
    text = key if row is None else row.get(lang or DEFAULT) or row[DEFAULT]
    return text.format(**fmt) if fmt else text


def lang_of(value: object) -> str:
    """A supported language from a query value or store, zh-CN otherwise."""
    return value if isinstance(value, str) and value in LANGUAGES else DEFAULT


def table(lang: str) -> dict[str, str]:
    """Every string in one language (sent to the browser for client-side rendering)."""
    return {k: v.get(lang) or v[DEFAULT] for k, v in _TABLE.items()}


register({
    # glossary terms shared by every page
    "county": ("县（区）", "County"),
    "town": ("镇（街道）", "Town / street"),
    "large": ("大网格", "Large grid"),
    "medium": ("中网格", "Medium grid"),
    "small": ("小网格", "Small grid"),
    "micro": ("微网格", "Micro grid"),
    "comprehensive": ("综合网格", "Comprehensive grid"),
    "dedicated": ("专属网格", "Dedicated grid"),
    "peacetime": ("平时", "Peacetime"),
    "wartime": ("战时", "Wartime"),
    "stand_down": ("解除战时状态", "Stand down"),
    "secretary": ("临时党支部书记", "Temporary branch secretary"),
    "acting_secretary": ("代理书记", "Acting secretary"),
    "first_leader": ("第一小网格长", "First small-grid leader"),
    "vacancy": ("空缺", "Vacancy"),
    "commander": ("指挥长", "Commander"),
    "leader": ("网格长", "Grid leader"),
    "viewer": ("查看人员", "Viewer"),
    "incident": ("突发事件", "Incident"),
    "epidemic": ("疫情", "Epidemic"),
    "flood": ("汛情", "Flood"),
    "fire": ("火情", "Fire"),
    "other": ("其他", "Other"),
    "level": ("应急响应等级", "Response level"),
    "level.I": ("Ⅰ级 特别重大", "Level I (extraordinary)"),
    "level.II": ("Ⅱ级 重大", "Level II (major)"),
    "level.III": ("Ⅲ级 较大", "Level III (large)"),
    "level.IV": ("Ⅳ级 一般", "Level IV (general)"),
    "operation": ("战时任务", "Operation"),
    "mass_testing": ("全员核酸检测", "Mass testing"),
    "flood_evacuation": ("防汛转移", "Flood evacuation"),
    "fire_hazard_check": ("火灾隐患排查", "Fire-hazard check"),
    "sampled": ("已采样人数", "People sampled"),
    "hazard_points_checked": ("已排查隐患点", "Hazard points checked"),
    "people_evacuated": ("已转移群众", "People evacuated"),
    "households_checked": ("已入户排查", "Households checked"),
    "hazards_found": ("发现隐患", "Hazards found"),
    "hazards_eliminated": ("消除隐患", "Hazards eliminated"),
    "people_persuaded": ("劝导群众", "People persuaded"),
    "report": ("进度上报", "Progress report"),
    "correction": ("更正", "Correction"),
    "stall": ("进度停滞", "Stalled grid"),
    "pace": ("进度滞后", "Behind pace"),
    "over_target": ("超出目标", "Over target"),
    "silent_secretary": ("书记未响应", "Silent secretary"),
    "big_screen": ("指挥大屏", "Command board"),
    "after_action_report": ("复盘报告", "After-action report"),
    # login, shared by every page
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误", "Wrong username or password"),
    "login.expired": ("登录已过期，请重新登录", "Session expired, please log in again"),
    "logout": ("退出", "Log out"),
    "language": ("English", "中文"),
})
