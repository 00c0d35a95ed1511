"""The console's commands: switch and stand down after a confirmation, level, appointments, launch, close, ack."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, html, no_update

from command.localtime import parse_instant
from command.operations import COUNTERS
from dashboard.i18n import t
from dashboard.pages.console_kit import (
    REGISTRY_DEFAULT,
    _attrs,
    _clicked,
    _expired,
    _level_label,
    _log,
    _n,
    api,
    explain,
)
from dashboard.pages.console_scope import deadline_text

# -- actions ----------------------------------------------------------------------------


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-war-preview", "n_clicks"),
    State("console-scope", "data"),
    State("console-incident", "value"),
    State("console-level", "value"),
    State("console-reason", "value"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _preview_switch(n: int, scope: str, incident: str, level: str, reason: str | None, view: Any,
                    session: Any, lang: str) -> Any:
    """Dry-run the switch and ask for confirmation with what it will do."""
    if not n:
        return no_update, no_update, no_update
    payload = {"scope": scope, "mode": "wartime", "incident": incident, "level": level, "reason": reason or ""}
    status, data = api("POST", "/modes?dry_run=1", session, payload)
    if status != 200:
        return None, _log(False, explain("switch", status, data, lang)), _expired(status)
    name = ((view or {}).get("grid") or {}).get("name", scope)
    confirm = {
        "action": "switch",
        "payload": {**payload, "request_id": f"console-{secrets.token_hex(8)}"},
        "title": t("console.confirm.switch", lang),
        "text": t("console.confirm.switch.lines", lang, scope=_scope_people(view, name, lang),
                  grids=data.get("grids_switched", 0),
                  installed=data.get("secretaries_installed", 0), vacancies=len(data.get("vacancies", [])),
                  incident=t(incident, lang), level=_level_label(level, lang)),
        "numbers": {"grids": data.get("grids_switched", 0), "installed": data.get("secretaries_installed", 0),
                    "vacancies": len(data.get("vacancies", []))},
    }
    return confirm, no_update, no_update


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-standdown", "n_clicks"),
    State("console-scope", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _preview_standdown(n: int, scope: str, view: Any, session: Any, lang: str) -> Any:
    """Dry-run the stand-down; refused here already while operations are open."""
    if not n:
        return no_update, no_update, no_update
    payload = {"scope": scope, "mode": "peacetime"}
    status, data = api("POST", "/modes?dry_run=1", session, payload)
    name = ((view or {}).get("grid") or {}).get("name", scope)
    if status != 200:
        open_ops = [o["name"] for o in _blocking(view)] or [
            o["name"] for o in (view or {}).get("operations", []) if o.get("state") == "open"]
        refusal = explain("standdown", status, data, lang, open_ops=open_ops)
        parts = [o for o in _blocking(view) if o.get("part")] if status == 409 else []
        if parts and (view or {}).get("can_command"):  # what blocks, and the way out: close the town's part
            op = parts[0]
            offer = _part_confirm(op, lang, title=t("console.confirm.blocked", lang, scope=name))
            offer["text"] = t("console.blocked.lines", lang, scope=name, name=op["name"],
                              county=op.get("scope_name") or op["scope"]) + _gap(lang) + offer["text"]
            return offer, _log(False, refusal), no_update
        return None, _log(False, refusal), _expired(status)
    acting = [str(a.get("person")) for a in data.get("acting_released") or []]
    text = t("console.confirm.standdown.lines", lang, scope=_scope_people(view, name, lang),
             grids=data.get("grids_switched", 0), released=data.get("released", 0))
    if acting:
        shown = ("、" if lang != "en" else ", ").join(acting[:20])
        more = t("console.more", lang, n=len(acting) - 20) if len(acting) > 20 else ""
        text += _gap(lang) + t("console.confirm.standdown.acting", lang, n=len(acting), names=shown, more=more)
    confirm = {
        "action": "standdown",
        "payload": {**payload, "request_id": f"console-{secrets.token_hex(8)}"},
        "title": t("console.confirm.standdown", lang),
        "text": text,
        "numbers": {"grids": data.get("grids_switched", 0), "released": data.get("released", 0),
                    "acting": len(acting)},
    }
    return confirm, no_update, no_update


def _gap(lang: str) -> str:
    """Between two sentences: nothing after a full-width stop, a space in English."""
    return " " if lang == "en" else ""


def _blocking(view: Any) -> list[Mapping[str, Any]]:
    """Open operations of the view whose part here is still open (what keeps the scope from standing down)."""
    return [o for o in (view or {}).get("operations", [])
            if o.get("state") == "open" and not o.get("part_closed_at")]


def _scope_people(view: Any, name: str, lang: str) -> str:
    """A scope's name with its people ("平南县（1,089,741 人）")."""
    people = ((view or {}).get("grid") or {}).get("population")
    return t("console.scope_people", lang, scope=name, people=_n(people)) if isinstance(people, int) else name


def _part_confirm(op: Mapping[str, Any], lang: str, title: str | None = None) -> dict[str, Any]:
    """The confirmation of closing an operation's part in one town: the town and its people named."""
    town, people = str(op.get("part_name") or op.get("part")), op.get("at_population")
    return {
        "action": "close_part",
        "payload": {"op": op["id"], "town": op["part"], "name": op["name"], "town_name": town},
        "title": title or t("console.confirm.close_part", lang),
        "text": t("console.confirm.close_part.lines", lang, name=op["name"], kind=t(str(op["kind"]), lang),
                  town=town, people=_n(people)),
        "numbers": {"people": people, "town": op["part"]},
    }


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Input({"type": "console-close", "op": ALL}, "n_clicks"),
    State("console-view", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ask_close(_: list[int], view: Any, lang: str) -> Any:
    """Closing freezes an operation's totals: ask first."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update
    op_id = str(ctx.triggered_id["op"])
    op = next((o for o in (view or {}).get("operations", []) if o["id"] == op_id), None)
    if op is None:
        return no_update
    people = op.get("scope_population")
    return {
        "action": "close",
        "payload": {"op": op_id, "name": op["name"]},
        "title": t("console.confirm.close", lang),
        "text": t("console.confirm.close.lines", lang, name=op["name"], kind=t(str(op["kind"]), lang),
                  scope=str(op.get("scope_name") or op["scope"]), people=_n(people)),
        "numbers": {"people": people, "scope": op["scope"]},
    }


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Input({"type": "console-close-part", "op": ALL}, "n_clicks"),
    State("console-view", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ask_close_part(_: list[int], view: Any, lang: str) -> Any:
    """Ending an operation in one town freezes that town's totals: ask first, naming the town and its people."""
    op_id = _clicked("op")
    op = next((o for o in (view or {}).get("operations", []) if o["id"] == op_id), None)
    if op is None or not op.get("part"):
        return no_update
    return _part_confirm(op, lang)


@callback(
    Output("console-confirm-box", "style"),
    Output("console-confirm-text", "children"),
    Input("console-confirm", "data"),
)
def _show_confirm(confirm: Any) -> Any:
    """The confirmation box, with the numbers of the dry run."""
    if not confirm:
        return {"display": "none"}, []
    numbers = confirm.get("numbers") or {}
    return {"display": "block"}, [
        html.H3(str(confirm.get("title", "")), className="console-confirm-title"),
        html.P(str(confirm.get("text", "")), className="console-confirm-lines",
               **_attrs({f"data-{k}": str(v) for k, v in numbers.items()})),
    ]


def _totals_text(out: Mapping[str, Any], lang: str) -> str:
    totals = out.get("totals") or {}
    targets = out.get("targets") or {}
    parts = []
    for c, n in totals.items():
        tgt = targets.get(c)
        parts.append(f"{t(c, lang)} {_n(n)}" + (f" / {_n(tgt)}" if tgt is not None else ""))
    return "；".join(parts) if lang != "en" else "; ".join(parts)


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-confirm-yes", "n_clicks"),
    Input("console-confirm-no", "n_clicks"),
    State("console-confirm", "data"),
    State("console-tick", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _confirmed(yes: int, no: int, confirm: Any, tick: int, view: Any, session: Any, lang: str) -> Any:
    """Do what was confirmed (or nothing, when cancelled), and say what happened."""
    if not confirm or not (yes or no):
        return no_update, no_update, no_update, no_update
    if ctx.triggered_id == "console-confirm-no":
        return None, _log(True, t("console.cancelled", lang)), no_update, no_update
    action = confirm.get("action")
    payload = dict(confirm.get("payload") or {})
    if action in ("switch", "standdown"):
        status, data = api("POST", "/modes", session, payload)
        if status == 200:
            if action == "switch":
                text = t("console.ok.switch", lang, grids=data.get("grids_switched", 0),
                         installed=data.get("secretaries_installed", 0), vacancies=len(data.get("vacancies", [])))
            else:
                text = t("console.ok.standdown", lang, grids=data.get("grids_switched", 0))
            return None, _log(True, text), (tick or 0) + 1, no_update
        open_ops = [o["name"] for o in (view or {}).get("operations", []) if o.get("state") == "open"]
        refusal = explain(str(action), status, data, lang, open_ops=open_ops)
        return None, _log(False, refusal), no_update, _expired(status)
    if action == "close_part":
        op, town = str(payload.get("op")), str(payload.get("town"))
        status, data = api("POST", f"/operations/{op}/towns/{town}/close", session, {})
        if status == 200:
            key = "console.ok.close" if data.get("state") == "closed" else "console.ok.close_part"
            text = t(key, lang, name=payload.get("name", op), town=payload.get("town_name", town),
                     totals=_totals_text(data, lang))
            return None, _log(True, text), (tick or 0) + 1, no_update
        return None, _log(False, explain("close", status, data, lang)), (tick or 0) + 1, _expired(status)
    if action == "launch":
        status, data = api("POST", "/operations", session, payload)
        if status == 201:
            return None, _log(True, t("console.ok.launch", lang, name=payload.get("name"))), (tick or 0) + 1, no_update
        return None, _log(False, explain("launch", status, data, lang)), no_update, _expired(status)
    if action == "ack_many":
        ok, gone = _ack_each(list(payload.get("alerts") or []), session)
        return None, _log(True, t("console.ok.ack_many", lang, n=ok, skipped=gone)), (tick or 0) + 1, no_update
    if action == "close":
        op = str(payload.get("op"))
        status, data = api("POST", f"/operations/{op}/close", session)
        if status == 200:
            text = t("console.ok.close", lang, name=payload.get("name", op), totals=_totals_text(data, lang))
            return None, _log(True, text), (tick or 0) + 1, no_update
        return None, _log(False, explain("close", status, data, lang)), (tick or 0) + 1, _expired(status)
    return None, no_update, no_update, no_update


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-level-apply", "n_clicks"),
    State("console-scope", "data"),
    State("console-level-new", "value"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _change_level(n: int, scope: str, level: str, tick: int, session: Any, lang: str) -> Any:
    """Raise or lower the response level of the wartime part of the scope."""
    if not n:
        return no_update, no_update, no_update
    status, data = api("POST", "/levels", session, {"scope": scope, "level": level})
    if status == 200:
        return _log(True, t("console.ok.level", lang, level=_level_label(level, lang), grids=data.get("grids", 0))), \
            (tick or 0) + 1, no_update
    return _log(False, explain("level", status, data, lang)), no_update, _expired(status)


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input({"type": "console-appoint", "grid": ALL}, "n_clicks"),
    State({"type": "console-person", "grid": ALL}, "value"),
    State({"type": "console-person", "grid": ALL}, "id"),
    State("console-view", "data"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _appoint(_: list[int], people: list[str | None], ids: list[dict[str, str]], view: Any, tick: int,
             session: Any, lang: str) -> Any:
    """Fill a vacancy with an acting secretary."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update, no_update, no_update
    grid = str(ctx.triggered_id["grid"])
    person = next((p for p, i in zip(people, ids, strict=False) if i.get("grid") == grid), None)
    status, data = api("POST", "/secretaries", session, {"grid": grid, "person": (person or "").strip()})
    if status == 201:
        name = next((v["name"] for v in (view or {}).get("vacancies", []) if v["grid"] == grid), grid)
        return _log(True, t("console.ok.appoint", lang, person=data.get("person", person), grid=name)), \
            (tick or 0) + 1, no_update
    return _log(False, explain("appoint", status, data, lang)), no_update, _expired(status)


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Output("console-op-name", "value"),
    Output("console-confirm", "data", allow_duplicate=True),
    Input("console-launch", "n_clicks"),
    State("console-scope", "data"),
    State("console-kind", "value"),
    State("console-op-name", "value"),
    State("console-hours", "value"),
    State("console-deadline-day", "date"),
    State("console-deadline-time", "value"),
    State({"type": "console-target", "counter": ALL}, "value"),
    State({"type": "console-target", "counter": ALL}, "id"),
    State("console-tick", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _launch(n: int, scope: str, kind: str, name: str | None, hours: Any, day: str | None, clock: str | None,
            values: list[Any], ids: list[dict[str, str]], tick: int, view: Any, session: Any, lang: str) -> Any:
    """Launch an operation over the scope with its targets and deadline (a warning first when it has no target)."""
    if not n:
        return no_update, no_update, no_update, no_update, no_update
    deadline: int | None = None
    due = deadline_text(day, clock)
    if due:
        try:
            deadline = parse_instant(str(due))  # the picker's wall time is Asia/Shanghai (command.localtime)
        except ValueError:
            return _log(False, t("console.err.deadline", lang)), no_update, no_update, no_update, no_update
        if deadline <= time.time() * 1000:
            return _log(False, t("console.err.deadline_past", lang)), no_update, no_update, no_update, no_update
    elif hours not in (None, "") and (not isinstance(hours, (int, float)) or hours <= 0 or int(hours) != hours):
        return _log(False, t("console.err.hours", lang)), no_update, no_update, no_update, no_update
    targets: dict[str, Any] = {}
    for v, i in zip(values, ids, strict=False):
        if v in (None, ""):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        targets[i["counter"]] = v
    payload: dict[str, Any] = {"kind": kind, "scope": scope, "name": (name or "").strip(), "targets": targets}
    if deadline is not None:
        payload["deadline"] = deadline
    elif hours:
        payload["deadline"] = int(time.time() * 1000 + int(hours) * 3_600_000)
    untargeted = [c for c in COUNTERS.get(kind, ()) if c not in targets and c not in REGISTRY_DEFAULT]
    if payload["name"] and untargeted and len(untargeted) == len(COUNTERS.get(kind, ())):
        where = _scope_people(view, str(((view or {}).get("grid") or {}).get("name", scope)), lang)
        warn = {
            "action": "launch",
            "payload": payload,
            "title": t("console.confirm.no_targets", lang),
            "text": t("console.confirm.no_targets.lines", lang, name=payload["name"], kind=t(kind, lang),
                      scope=where, counters="、".join(t(c, lang) for c in untargeted) if lang != "en"
                      else ", ".join(t(c, lang) for c in untargeted)),
            "numbers": {"targets": 0},
        }
        return no_update, no_update, no_update, no_update, warn
    status, data = api("POST", "/operations", session, payload)
    if status == 201:
        return _log(True, t("console.ok.launch", lang, name=payload["name"])), (tick or 0) + 1, no_update, "", \
            no_update
    return _log(False, explain("launch", status, data, lang)), no_update, _expired(status), no_update, no_update


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input({"type": "console-ack", "alert": ALL}, "n_clicks"),
    State("console-view", "data"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ack(_: list[int], view: Any, tick: int, session: Any, lang: str) -> Any:
    """Acknowledge an alert: the commander takes charge of it."""
    alert = _clicked("alert")
    if alert is None:
        return no_update, no_update, no_update
    status, data = api("POST", f"/alerts/{alert}/ack", session)
    if status == 200:
        a = next((x for x in (view or {}).get("alerts", []) if x["id"] == alert), data)
        text = t("console.ok.ack", lang, kind=t(f"console.alert.{data.get('kind')}", lang),
                 grid=a.get("grid_name") or data.get("grid"))
        return _log(True, text), (tick or 0) + 1, no_update
    return _log(False, explain("ack", status, data, lang)), (tick or 0) + 1, _expired(status)


def _ack_each(alerts: list[str], session: Any) -> tuple[int, int]:
    """One acknowledgement command per alert (each through the API and its intake); (done, already taken)."""
    ok = gone = 0
    for alert in alerts:
        status, _ = api("POST", f"/alerts/{alert}/ack", session)
        if status == 200:
            ok += 1
        elif status == 409:
            gone += 1
    return ok, gone


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Input("console-ack-picked", "n_clicks"),
    Input("console-ack-all", "n_clicks"),
    State({"type": "console-alert-pick", "alert": ALL}, "value"),
    State("console-view", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ack_bulk(picked_n: int, all_n: int, picked: list[list[str] | None], view: Any, lang: str) -> Any:
    """Acknowledge several alerts at once, after a confirmation naming how many and where."""
    if not (picked_n or all_n) or not (ctx.triggered and ctx.triggered[0].get("value")):
        return no_update, no_update
    listed = [a for a in (view or {}).get("alerts", []) if not a.get("acked_by")]
    if ctx.triggered_id == "console-ack-all":
        ids = [str(a["id"]) for a in listed]
    else:
        chosen = {v for vals in picked for v in (vals or [])}
        ids = [str(a["id"]) for a in listed if a["id"] in chosen]
    if not ids:
        return no_update, _log(False, t("console.err.none_picked", lang))
    name = ((view or {}).get("grid") or {}).get("name", "")
    return {
        "action": "ack_many",
        "payload": {"alerts": ids},
        "title": t("console.confirm.ack_many", lang),
        "text": t("console.confirm.ack_many.lines", lang, n=len(ids), scope=name),
        "numbers": {"alerts": len(ids)},
    }, no_update
