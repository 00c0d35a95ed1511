"""Column and value labels (表头与取值) as county offices write them, mapped to the code names.

A zh-CN office keeps its registry with Chinese headers (网格编码, 名称, 层级…) and writes
levels and kinds in Chinese (县, 镇, 小网格, 综合网格). The labels are those of
GLOSSARY.md plus the few spellings every office uses for the same column; the code
names themselves are always accepted. Pure lookups: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from command.grids import GridKind, Level

__all__ = [
    "HEADER_LABELS",
    "KIND_LABELS",
    "LEVEL_LABELS",
    "column",
    "kind_value",
    "level_value",
    "normalise",
]

# Chinese (and common English) headers → registry column. Compared after `normalise`.
HEADER_LABELS: dict[str, str] = {
    # code
    "网格编码": "code", "编码": "code", "网格代码": "code", "代码": "code", "编号": "code", "网格编号": "code",
    # name
    "名称": "name", "网格名称": "name", "名字": "name",
    # level
    "层级": "level", "级别": "level", "网格层级": "level", "网格级别": "level",
    # kind
    "类型": "kind", "网格类型": "kind", "类别": "kind",
    # parent
    "上级": "parent", "上级编码": "parent", "上级网格": "parent", "上级网格编码": "parent", "上级代码": "parent",
    # figures
    "户数": "households", "住户数": "households", "总户数": "households",
    "人口": "population", "人口数": "population", "人数": "population", "总人口": "population",
    # people
    "第一小网格长": "first_leader",
    "网格长": "leader", "负责人": "leader",
    "电话": "phone", "联系电话": "phone", "手机": "phone", "手机号": "phone", "手机号码": "phone",
    # central households (党员中心户)
    "党员中心户编码": "code", "所属微网格": "micro_grid", "微网格": "micro_grid", "微网格编码": "micro_grid",
    "户主": "head", "中心户户主": "head", "联系户数": "linked_households", "联系农户数": "linked_households",
}

LEVEL_LABELS: dict[str, Level] = {
    "县": Level.COUNTY, "区": Level.COUNTY, "县区": Level.COUNTY, "县(区)": Level.COUNTY, "县级": Level.COUNTY,
    "镇": Level.TOWN, "街道": Level.TOWN, "镇(街道)": Level.TOWN, "镇/街道": Level.TOWN, "乡": Level.TOWN,
    "乡镇": Level.TOWN, "乡镇(街道)": Level.TOWN, "镇街": Level.TOWN,
    "大网格": Level.LARGE, "中网格": Level.MEDIUM, "小网格": Level.SMALL, "微网格": Level.MICRO,
    "一级网格": Level.LARGE, "二级网格": Level.MEDIUM, "三级网格": Level.SMALL, "四级网格": Level.MICRO,
}

KIND_LABELS: dict[str, GridKind] = {
    "综合网格": GridKind.COMPREHENSIVE, "综合": GridKind.COMPREHENSIVE,
    "专属网格": GridKind.DEDICATED, "专属": GridKind.DEDICATED,
}


def normalise(label: str) -> str:
    """Fold full-width forms (（）／), drop spaces and '*' marks, lower-case: one key per label."""
    text = unicodedata.normalize("NFKC", label).strip().lower()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "*＊")


def column(label: str, known: Collection[str]) -> str | None:
    """The registry column a header cell names (code name or Chinese label), or None."""
    key = normalise(label)
    if key in known:
        return key
    name = HEADER_LABELS.get(key)
    return name if name is not None and name in known else None


def level_value(raw: str) -> str:
    """A level cell as its code name: Chinese labels translated, anything else as written."""
    key = normalise(raw)
    found = LEVEL_LABELS.get(key)
    return found.value if found is not None else key


def kind_value(raw: str) -> str:
    """A kind cell as its code name: Chinese labels translated, anything else as written."""
    key = normalise(raw)
    found = KIND_LABELS.get(key)
    return found.value if found is not None else key
