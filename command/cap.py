"""OASIS CAP 1.2 (Common Alerting Protocol) export of an alert.

One message per alert state: an open alert is an ``Alert`` message (an
``Update`` once its grids changed), a cleared one a ``Cancel`` that references
the original. The area is what is affected: for an alert rolled up to a town,
the grids under it (their polygons and ``<geocode>`` entries, value name
``wartime:grid``), not the town's outline; for an alert on one grid, that grid.
The operation id is ``<incidents>``. Times carry the explicit ``+08:00`` offset the schema's
pattern demands (China Standard Time has no daylight saving). Two ``<info>``
blocks, zh-CN and en-US. Only the standard library's ElementTree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from command.alerts import AlertKind
from command.localtime import local_datetime
from command.mobilisation import FAILED_ALERT

if TYPE_CHECKING:
    from command.fold import Alert, ControlState

__all__ = [
    "CAP_NS",
    "CATEGORY",
    "GEOCODE",
    "KIND_LABELS",
    "MIME",
    "RESPONSE",
    "SEVERITY",
    "cap_time",
    "to_cap",
]


CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MIME = "application/cap+xml"
GEOCODE = "wartime:grid"

KIND_LABELS: Mapping[str, tuple[str, str]] = {
    AlertKind.VACANCY: ("书记空缺", "Vacancy"),
    AlertKind.STALL: ("进度停滞", "Stalled grid"),
    AlertKind.PACE: ("进度滞后", "Behind pace"),
    AlertKind.OVER_TARGET: ("超出目标", "Over target"),
    AlertKind.SILENT_SECRETARY: ("书记未响应", "Silent secretary"),
    AlertKind.NOT_ON_POST: ("书记未到岗", "Secretary not on post"),
    FAILED_ALERT: ("通知发送失败", "Notification failed"),
}

CATEGORY: Mapping[str, tuple[str, ...]] = {
    "epidemic": ("Health",),
    "flood": ("Met", "Geo"),
    "fire": ("Fire",),
    "other": ("Other",),
}

SEVERITY: Mapping[str, str] = {"I": "Extreme", "II": "Severe", "III": "Moderate", "IV": "Minor"}

RESPONSE: Mapping[str, str] = {
    AlertKind.VACANCY: "Execute",
    AlertKind.STALL: "Assess",
    AlertKind.PACE: "Prepare",
    AlertKind.OVER_TARGET: "Monitor",
    AlertKind.SILENT_SECRETARY: "Assess",
}


def cap_time(ms: int) -> str:
    """Epoch ms as the CAP dateTime: ``2025-03-14T08:00:00+08:00``."""
    return local_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    el = _sub(parent, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", value)


def _clean(text: str) -> str:
    """Sender and identifier may not hold spaces, commas, < or & (CAP 1.2 §3.2.1)."""
    return "".join("-" if ch in " ,<&" else ch for ch in text)


def _polygons(geometry: Mapping[str, Any] | None) -> list[str]:
    """CAP polygons ("lat,lon lat,lon …", closed) from a GeoJSON Polygon or MultiPolygon."""
    if not geometry:
        return []
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    rings: list[Sequence[Sequence[float]]] = []
    if kind == "Polygon" and coords:
        rings.append(coords[0])
    elif kind == "MultiPolygon":
        rings.extend(p[0] for p in coords if p)
    out = []
    for ring in rings:
        pts = [(float(p[1]), float(p[0])) for p in ring]
        if len(pts) < 3:
            continue
        if pts[0] != pts[-1]:
            pts.append(pts[0])
        if len(pts) >= 4:
            out.append(" ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in pts))
    return out


def _describe(alert: Alert, state: ControlState, lang: int) -> tuple[str, str]:
    """Headline and description in one language (0 zh-CN, 1 en)."""
    tree = state.tree
    grid_name = tree[alert.grid].name if tree is not None and alert.grid in tree else alert.grid
    label = KIND_LABELS.get(alert.kind, (alert.kind, alert.kind))[lang]
    d = alert.detail
    count = d.get("count")
    op = state.operations.get(alert.operation or "")
    op_name = op.name if op else (alert.operation or "")
    if alert.kind == AlertKind.PACE:
        projected = d.get("projected_at")
        never = "无进度，无法预计" if lang == 0 else "no progress yet"
        when = cap_time(int(projected)) if projected is not None else never
        deadline = cap_time(int(d["deadline"])) if d.get("deadline") is not None else "-"
        headline = (
            f"{grid_name}：{label}，预计完成 {when}，截止 {deadline}" if lang == 0
            else f"{grid_name}: {label}, projected completion {when}, deadline {deadline}"
        )
    elif count is not None:
        headline = (
            f"{grid_name}：{count}个网格{label}" if lang == 0 else f"{grid_name}: {count} grid(s), {label.lower()}"
        )
    else:
        headline = f"{grid_name}：{label}" if lang == 0 else f"{grid_name}: {label}"
    grids = list(d.get("grids") or ())
    parts = []
    if op_name:
        parts.append(f"{'战时任务' if lang == 0 else 'Operation'}: {op_name}")
    if grids:
        names = [f"{g} {tree[g].name}" if tree is not None and g in tree else g for g in grids]
        more = int(count or len(grids)) - len(grids)
        tail = (f"（另有{more}个）" if lang == 0 else f" (+{more} more)") if more > 0 else ""
        parts.append(("涉及网格：" if lang == 0 else "Grids: ") + "、".join(names) + tail)
    return headline, "\n".join(parts) or headline


def to_cap(
    alert: Alert,
    state: ControlState,
    *,
    county: str | None = None,
    geometry: Mapping[str, Any] | None = None,
    original: bool = False,
) -> bytes:
    """The CAP 1.2 message of an alert in its current state (UTF-8 XML bytes).

    `original=True` gives the first ``Alert`` message even after updates or a clear.
    """
    tree = state.tree
    code = county or (tree.root if tree is not None else "wartime")
    sender = _clean(f"wartime@{code}")
    first_id = _clean(f"{code}.{alert.id}")
    first_sent = cap_time(alert.raised_at)
    if alert.cleared_at is not None and not original:
        msg_type, ident, sent = "Cancel", f"{first_id}.cancel", cap_time(alert.cleared_at)
    elif alert.updated_at is not None and not original:
        msg_type, ident, sent = "Update", f"{first_id}.u{alert.updates}", cap_time(alert.updated_at)
    else:
        msg_type, ident, sent = "Alert", first_id, first_sent

    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", ident)
    _sub(root, "sender", sender)
    _sub(root, "sent", sent)
    _sub(root, "status", "Actual")
    _sub(root, "msgType", msg_type)
    _sub(root, "source", "wartime")
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", "指挥中心内部 · command centre internal")
    _sub(root, "code", f"wartime:{alert.kind}")
    if alert.acked_by is not None and alert.acked_at is not None:
        _sub(root, "note", f"acknowledged by {alert.acked_by} at {cap_time(alert.acked_at)}")
    if msg_type != "Alert":
        _sub(root, "references", f"{sender},{first_id},{first_sent}")
    if alert.operation:
        _sub(root, "incidents", _clean(alert.operation))

    w = state.wartime.get(alert.grid)
    if w is None and tree is not None and alert.grid in tree:
        w = next((state.wartime[g] for g in tree.ancestors(alert.grid) if g in state.wartime), None)
    categories = CATEGORY.get(w.incident if w else "other", ("Other",))
    severity = SEVERITY.get(w.level, "Unknown") if w else "Unknown"
    urgency = "Expected" if alert.kind in (AlertKind.PACE, AlertKind.OVER_TARGET) else "Immediate"
    certainty = "Likely" if alert.kind == AlertKind.PACE else "Observed"
    county_name = tree.county.name if tree is not None and tree.root else code
    grid_name = tree[alert.grid].name if tree is not None and alert.grid in tree else alert.grid
    members = [g for g in (alert.detail.get("grids") or ()) if g != alert.grid]
    affected = members or [alert.grid]
    polygons = [poly for g in affected for poly in _polygons((geometry or {}).get(g))]

    for lang, language in enumerate(("zh-CN", "en-US")):
        info = _sub(root, "info")
        _sub(info, "language", language)
        for cat in categories:
            _sub(info, "category", cat)
        _sub(info, "event", KIND_LABELS.get(alert.kind, (alert.kind, alert.kind))[lang])
        _sub(info, "responseType", "AllClear" if msg_type == "Cancel" else RESPONSE.get(alert.kind, "Monitor"))
        _sub(info, "urgency", "Past" if msg_type == "Cancel" else urgency)
        _sub(info, "severity", severity)
        _sub(info, "certainty", certainty)
        _pair(info, "eventCode", "wartime:kind", alert.kind)
        _sub(info, "effective", first_sent)
        _sub(info, "senderName", f"{county_name}指挥中心" if lang == 0 else f"{county_name} command centre")
        headline, description = _describe(alert, state, lang)
        _sub(info, "headline", headline[:160])
        _sub(info, "description", description)
        _pair(info, "parameter", "wartime:alert", alert.id)
        if alert.detail.get("count") is not None:
            _pair(info, "parameter", "wartime:count", str(alert.detail["count"]))
        if alert.kind == AlertKind.PACE and alert.detail.get("projected_at") is not None:
            _pair(info, "parameter", "wartime:projected_at", cap_time(int(alert.detail["projected_at"])))
        if alert.acked_by is not None:
            _pair(info, "parameter", "wartime:acked_by", alert.acked_by)
        area = _sub(info, "area")
        _sub(area, "areaDesc", grid_name if not members else (
            f"{grid_name}（{len(members)}个网格）" if lang == 0 else f"{grid_name} ({len(members)} grids)"
        ))
        for poly in polygons:
            _sub(area, "polygon", poly)
        for g in affected:
            _pair(area, "geocode", GEOCODE, g)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
