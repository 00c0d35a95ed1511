"""API of residents' matters and quarterly grid evaluations (issue 10); docs in docs/api-matters.md.

Added to the /api/v1 blueprint by `register` (listed in `dashboard.app.ROUTES`):

| method and path | body → answer |
| --- | --- |
| `POST /matters` | `{matter_id?, request_id?, grid, category, description, reporter?, photo?, photo_image?, …}` → 201 |
| `GET /matters?scope&grid&stage&category&level&open&overdue&since&until&limit&offset` | → `{matters, total}` |
| `GET /matters/summary?scope` | the peacetime board's figures |
| `GET /matters/map?scope` | polygons of the board's map and the tier they are drawn at |
| `GET /matters/grids` | small and micro grids of the caller's scope (where matters are recorded) |
| `GET /matters/categories?lang` | categories with deadlines, stages, steps, levels, with labels |
| `GET /matters/{id}` | one matter with its history |
| `GET /matters/{id}/photo` | the photo taken with it (`photo_image` when recorded; see `dashboard.photos`) |
| `POST /matters/{id}/stages` | `{stage, note?, satisfaction?}` → the next list (议单/办单/晒单/评单) |
| `POST /matters/{id}/evaluate` | `{satisfaction, note?}` → 评单 |
| `POST /matters/{id}/handovers` | `{step, to?, grid?, department?, reason, request_id?}` (上报/分派/流转) |
| `POST /matters/overdue` | commanders: one overdue-alert round now → `{raised, cleared}` |
| `GET /evaluations/weights`, `PUT /evaluations/weights` | the checklist with its weights; county commanders edit |
| `POST /evaluations` | `{quarter?, scope?, adjustments?, request_id?}` → 201 the evaluation's summary |
| `GET /evaluations?quarter&scope` | evaluations published inside the caller's scope |
| `GET /evaluations/{id}` | the table: grids and first leaders with scores, stars, ranks |
| `GET /evaluations/{id}/export?format=csv\\|xlsx\\|html&lang` | the table as a download |
| `POST /evaluations/{id}/verify` | recompute from the log: `{equal, digest, recomputed}` |

Handlers parse, call `streams.matters.Matters` (which runs the pure commands
of `command.matters` / `command.evaluation`) and answer; refusals map to the
status codes of `dashboard.api.STATUS`. The strings the pages and exports use
(categories, lists, steps, tiers, checklist items) are registered here.

Why one module: the routes of matters and of the evaluations that score
them share the scope checks, the masking of residents and the stage labels;
each route is a few lines of parsing around a `command.matters` call.
"""

from __future__ import annotations

import csv
import html
import io
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request

from command import evaluation as ev_commands
from command import matters as m_commands
from command.access import Actor, overlaps_scope, require_command, require_read, within_scope
from command.bounds import strip_controls
from command.contact import quarter_of
from command.errors import InvalidRequest, NotAuthorised, UnknownEndpoint, UnknownEvaluation
from command.events import AlertCleared, AlertRaised
from command.geoindex import GeoIndex
from command.grids import GridTree, Level
from command.matters import CATEGORIES, STAGES, TIERS, Matter, MatterRequest, Step
from dashboard.api import PHOTO_BODY, Backend, handler
from dashboard.i18n import lang_of, t
from dashboard.i18n import register as register_strings
from dashboard.intake import Call, Routes
from dashboard.photos import serve as serve_photo
from streams.matters import Matters, matters_for, recompute
from streams.photos import photo_in

__all__ = [
    "MAP_MAX_POLYGONS",
    "MAX_GRIDS",
    "MAX_LIMIT",
    "map_level",
    "matter_json",
    "register",
    "render_csv",
    "render_html",
    "render_xlsx",
]


MAX_LIMIT = 1000
MAX_GRIDS = 300
"""A phone lists at most this many grids to record matters on."""
MAP_MAX_POLYGONS = 2500
"""The board's map draws the finest of small / medium / large / town grids with at most this many polygons."""

register_strings({
    "matter": ("民情事项", "Residents' matter"),
    "matters.cat.urgent": ("紧急求助", "Urgent help"),
    "matters.cat.safety": ("安全隐患", "Safety hazard"),
    "matters.cat.policy": ("政策咨询", "Policy enquiry"),
    "matters.cat.environment": ("环境卫生", "Environment"),
    "matters.cat.dispute": ("矛盾纠纷", "Dispute"),
    "matters.cat.property": ("物业管理", "Property management"),
    "matters.cat.livelihood": ("民生服务", "Livelihood"),
    "matters.cat.infrastructure": ("基础设施", "Infrastructure"),
    "matters.cat.other": ("其他", "Other"),
    "matters.stage.collected": ("集单", "Collected"),
    "matters.stage.deliberated": ("议单", "Deliberated"),
    "matters.stage.handled": ("办单", "Handled"),
    "matters.stage.published": ("晒单", "Published"),
    "matters.stage.evaluated": ("评单", "Evaluated"),
    "matters.step.entry": ("录入", "Entry"),
    "matters.step.report": ("上报", "Report"),
    "matters.step.dispatch": ("分派", "Dispatch"),
    "matters.step.transfer": ("流转", "Transfer"),
    "matters.step.dispose": ("处置", "Dispose"),
    "matters.step.stage": ("流转阶段", "List reached"),
    "matters.level.grid": ("网格内", "In the grid"),
    "matters.level.village": ("村级", "Village"),
    "matters.level.town": ("镇级", "Town"),
    "matters.level.county": ("县级部门", "County department"),
    "eval.cat.party": ("党建引领", "Party building"),
    "eval.cat.collection": ("民情收集", "Collecting concerns"),
    "eval.cat.handling": ("事项办理", "Handling matters"),
    "eval.cat.grid_first": ("就地化解", "Solved locally"),
    "eval.cat.satisfaction": ("群众满意", "Residents' satisfaction"),
    "eval.cat.openness": ("公开公示", "Openness"),
    "eval.cat.emergency": ("应急处置", "Emergency response"),
    "eval.cat.safety": ("安全稳定", "Safety and stability"),
    "eval.cat.registry": ("基础信息", "Registry data"),
    "eval.cat.service": ("为民服务", "Service to residents"),
    "eval.cat.team": ("队伍建设", "Team building"),
    "eval.item.party.activities": ("网格党组织活动开展", "Grid party-branch activities held"),
    "eval.item.party.members_on_duty": ("党员到网格报到服务", "Party members serving in the grid"),
    "eval.item.collection.contact_round": ("季度联系服务开展", "Quarterly contact round held"),
    "eval.item.collection.concerns": ("收集群众诉求", "Concerns gathered"),
    "eval.item.handling.completion": ("事项办结率", "Matters completed"),
    "eval.item.handling.in_time": ("按期办结率", "Matters closed in time"),
    "eval.item.grid_first.in_grid": ("小事不出网格", "Small matters stay in the grid"),
    "eval.item.grid_first.in_village": ("大事不出村", "Big matters stay in the village"),
    "eval.item.satisfaction.score": ("群众满意度", "Satisfaction score"),
    "eval.item.satisfaction.evaluated": ("回访评价率", "Matters evaluated by residents"),
    "eval.item.openness.published": ("办理结果公示率", "Results published"),
    "eval.item.openness.notice_board": ("网格公示栏更新", "Notice board kept up to date"),
    "eval.item.emergency.completion": ("战时任务完成率", "Wartime tasks completed"),
    "eval.item.emergency.secretary": ("临时书记到岗", "Temporary secretary in post"),
    "eval.item.safety.hazards": ("隐患整改率", "Hazards eliminated"),
    "eval.item.safety.no_major_incident": ("无重大安全事件", "No major incident"),
    "eval.item.registry.households": ("户籍人口信息准确", "Household data accurate"),
    "eval.item.registry.updates": ("台账动态更新", "Registry kept current"),
    "eval.item.service.visits": ("走访困难群众", "Visits to people in difficulty"),
    "eval.item.service.policy": ("政策宣传", "Policy briefings"),
    "eval.item.team.training": ("网格员培训", "Grid-worker training"),
    "eval.item.team.attendance": ("在岗履职", "On duty"),
    "eval.col.rank": ("排名", "Rank"),
    "eval.col.grid": ("网格编码", "Grid code"),
    "eval.col.name": ("网格名称", "Grid"),
    "eval.col.first_leader": ("第一小网格长", "First small-grid leader"),
    "eval.col.score": ("得分", "Score"),
    "eval.col.stars": ("星级", "Stars"),
    "eval.col.matters": ("事项数", "Matters"),
    "eval.col.leader": ("第一小网格长", "First small-grid leader"),
    "eval.col.grids": ("所包网格", "Grids"),
    "eval.title": ("{quarter} 网格考评（{scope}）", "Grid evaluation {quarter} ({scope})"),
    "eval.sheet.grids": ("网格得分", "Grids"),
    "eval.sheet.leaders": ("第一小网格长", "First leaders"),
    "eval.sheet.items": ("考评细则", "Checklist"),
    "eval.col.item": ("考评项目", "Item"),
    "eval.col.category": ("类别", "Category"),
    "eval.col.weight": ("权重", "Weight"),
    "eval.col.source": ("数据来源", "Source"),
    "eval.source.log": ("系统记录", "From the log"),
    "eval.source.manual": ("人工评定", "Manual"),
})


def _flag(args: Mapping[str, str], name: str) -> bool:
    return args.get(name) in ("1", "true", "yes")


def _int_arg(args: Mapping[str, str], name: str, default: int | None = None, lo: int = 0,
             hi: int | None = None) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", field=name) from None
    if v < lo or (hi is not None and v > hi):
        raise InvalidRequest(f"{name} must be between {lo} and {hi}", field=name)
    return v


def _opt_str(data: Mapping[str, Any], name: str) -> str:
    v = data.get(name)
    if v is None:
        return ""
    if not isinstance(v, str) or len(v) > 128:
        raise InvalidRequest(f"{name} must be text of at most 128 characters", field=name)
    return v


def _visible(actor: Actor, tree: GridTree, m: Matter) -> bool:
    if actor.scope == "":
        return True
    return m_commands.concerns(tree, m, actor.scope)


def _names(tree: GridTree, *codes: str) -> dict[str, str]:
    return {c: tree[c].name for c in codes if c in tree}


def matter_json(tree: GridTree, m: Matter, now: int, actor: Actor | None = None) -> dict[str, Any]:
    """A matter as the API answers it: the overdue flag, grid names and what the caller may do next."""
    codes = {m.grid, m.holder, *(e.to_grid for e in m.history if e.to_grid),
             *(e.from_grid for e in m.history if e.from_grid)}
    out = m.to_json(now, _names(tree, *codes))
    if actor is not None:
        out["actions"] = m_commands.next_actions(m, tree, actor)
    return out


def map_level(tree: GridTree, scope: str) -> Level:
    """The finest tier of grids the board's map can draw for a scope."""
    for level in (Level.SMALL, Level.MEDIUM, Level.LARGE, Level.TOWN):
        n = sum(1 for c in tree.subtree(scope) if tree[c].level == level)
        if 0 < n <= MAP_MAX_POLYGONS:
            return level
    return Level.TOWN


def _where(tree: GridTree, index: GeoIndex, grid: str) -> tuple[float | None, float | None]:
    """A point on the map for a grid: its polygon's centre, else its nearest ancestor's."""
    for g in tree.path(grid) if grid in tree else ():
        c = index.point(g)
        if c is not None:
            return round(c[0], 6), round(c[1], 6)
    return None, None


def _scope_arg(args: Mapping[str, str], actor: Actor, tree: GridTree) -> str:
    scope = args.get("scope") or actor.scope or tree.root
    require_read(actor, tree, scope, field="scope")
    return scope


def register(api: Blueprint, backend: Backend) -> None:
    """Add the matters and evaluations routes to the blueprint (on the intake's table, but the export)."""
    routes = Routes()

    def svc() -> Matters:
        return matters_for(backend.county)

    # -- matters ------------------------------------------------------------------------

    @routes.post("/matters", limit=PHOTO_BODY)
    def create_matter(c: Call) -> Any:
        actor = c.actor
        data = c.body
        matter_id = _opt_str(data, "matter_id")
        request_id = _opt_str(data, "request_id")
        if not matter_id:
            matter_id = m_commands.matter_id_for(request_id or secrets.token_hex(16))
        photo = photo_in(data)
        req = MatterRequest(matter_id, data.get("grid"), data.get("category"), data.get("description"),
                            data.get("reporter"), data.get("photo"), data.get("reported_at"),
                            data.get("location"), photo.digest if photo is not None else None)
        with backend.lock:
            s = svc()
            done = s.record(actor, req, photo)
            m = s.state.get(matter_id)
            out = matter_json(backend.county.tree, m, backend.county.clock(), actor)
        out["event_id"] = done.event_id
        if done.duplicate:
            out["duplicate"] = True
            return out, 200
        return out, 201

    @routes.get("/matters")
    def list_matters(c: Call) -> Any:
        actor = c.actor
        limit = _int_arg(c.args, "limit", 100, 1, MAX_LIMIT) or 100
        offset = _int_arg(c.args, "offset", 0, 0) or 0
        with backend.lock:
            s = svc()
            s.refresh()
            tree = backend.county.tree
            scope = _scope_arg(c.args, actor, tree)
            now = backend.county.clock()
            grid = c.args.get("grid") or None
            if grid is not None:
                require_read(actor, tree, grid)
            items = list(m_commands.select(
                s.state, tree, scope, now, grid=grid, stage=c.args.get("stage") or None,
                category=c.args.get("category") or None, level=c.args.get("level") or None,
                open_only=_flag(c.args, "open"), overdue_only=_flag(c.args, "overdue"),
                unfinished=_flag(c.args, "unfinished"),
                since=_int_arg(c.args, "since"), until=_int_arg(c.args, "until"),
            ))
            page = [matter_json(tree, m, now, actor) for m in items[offset:offset + limit]]
        return {"scope": scope, "total": len(items), "offset": offset, "limit": limit, "matters": page}

    @routes.get("/matters/summary")
    def matters_summary(c: Call) -> Any:
        actor = c.actor
        with backend.lock:
            s = svc()
            control, state = s.refresh()
            tree = backend.county.tree
            scope = _scope_arg(c.args, actor, tree)
            now = backend.county.clock()
            out = m_commands.summary(state, tree, scope, now)
            wartime = sum(1 for g in control.wartime if g in tree and tree.is_within(g, scope))
            level = map_level(tree, scope)
            out["by_area"] = m_commands.by_area(state, tree, scope, level, now)
            index = backend.county.view.geometry_index()
        out["scope_name"] = tree[scope].name
        out["mode"] = control.mode_of(scope).value
        out["wartime_grids"] = wartime
        out["map_level"] = level.value
        for o in out["overdue"]:
            o["lon"], o["lat"] = _where(tree, index, o["grid"])
        return out

    @routes.get("/matters/grids")
    def matter_grids(c: Call) -> Any:
        actor = c.actor
        with backend.lock:
            backend.county.refresh()
            tree = backend.county.tree
        root = actor.scope or tree.root
        grids = []
        for code in tree.subtree(root):
            g = tree[code]
            if g.level in (Level.SMALL, Level.MICRO):
                grids.append({"code": code, "name": g.name, "grid_level": g.level.value, "parent": g.parent})
                if len(grids) >= MAX_GRIDS:
                    break
        return {"scope": root, "grids": grids, "truncated": len(grids) >= MAX_GRIDS,
                "may_record": actor.role.value != "viewer"}

    @routes.get("/matters/map")
    def matters_map(c: Call) -> Any:
        actor = c.actor
        with backend.lock:
            county = backend.county
            county.refresh()
            tree = county.tree
            scope = _scope_arg(c.args, actor, tree)
            geometry = county.view.geometry()
        level = map_level(tree, scope)
        feats = []
        for code in tree.subtree(scope):
            g = tree[code]
            geo = geometry.get(code)
            if g.level == level and geo:
                feats.append({"type": "Feature", "id": code, "properties": {"name": g.name}, "geometry": geo})
        return {"scope": scope, "level": level.value, "geojson": {"type": "FeatureCollection", "features": feats}}

    @routes.get("/matters/categories")
    def matter_categories(c: Call) -> Any:
        lang = lang_of(c.args.get("lang"))
        return {
            "categories": [
                {"code": cat.code, "hours": cat.hours, "label": t(f"matters.cat.{cat.code}", lang)}
                for cat in CATEGORIES.values()
            ],
            "stages": [{"code": s.value, "label": t(f"matters.stage.{s.value}", lang)} for s in STAGES],
            "steps": [{"code": s.value, "label": t(f"matters.step.{s.value}", lang)} for s in Step],
            "levels": [{"code": v.value, "label": t(f"matters.level.{v.value}", lang)} for v in TIERS],
        }

    @routes.post("/matters/overdue", body="optional")  # no fields, but a body sent must be a JSON object
    def matters_overdue(c: Call) -> Any:
        actor = c.actor
        with backend.lock:
            county = backend.county
            county.refresh()
            require_command(actor, county.tree, actor.scope or county.tree.root)
            events, new = svc().overdue(county.clock(), actor.username)
        raised = [e.alert for e in events if isinstance(e, AlertRaised)]
        cleared = [e.alert for e in events if isinstance(e, AlertCleared)]
        return {"raised": raised, "cleared": cleared, "appended": new}

    @routes.get("/matters/<matter>")
    def get_matter(c: Call, matter: str) -> Any:
        actor = c.actor
        with backend.lock:
            s = svc()
            s.refresh()
            tree = backend.county.tree
            m = s.state.get(matter)
            if not _visible(actor, tree, m):
                raise NotAuthorised(f"matter {matter} is outside your scope {actor.scope}", field="matter_id")
            return matter_json(tree, m, backend.county.clock(), actor)

    @routes.get("/matters/<matter>/photo")
    def matter_photo(c: Call, matter: str) -> Any:
        with backend.lock:
            s = svc()
            s.refresh()
            m = s.state.get(matter)
        if not m.photo_digest:
            raise UnknownEndpoint(f"matter {matter} has no photo", field="matter_id")
        grids = [m.grid, m.holder, *(e.to_grid for e in m.history if e.to_grid)]
        return serve_photo(backend, c, m.photo_digest, grids)

    def _after(matter: str, event_id: str, duplicate: bool, actor: Actor) -> Any:
        s = svc()
        out = matter_json(backend.county.tree, s.state.get(matter), backend.county.clock(), actor)
        out["event_id"] = event_id
        if duplicate:
            out["duplicate"] = True
        return out

    @routes.post("/matters/<matter>/stages")
    def advance_matter(c: Call, matter: str) -> Any:
        actor = c.actor
        data = c.body
        with backend.lock:
            done = svc().advance(actor, matter, data.get("stage"), data.get("note"), data.get("satisfaction"))
            return _after(matter, done.event_id, done.duplicate, actor)

    @routes.post("/matters/<matter>/evaluate")
    def evaluate_matter(c: Call, matter: str) -> Any:
        actor = c.actor
        data = c.body
        with backend.lock:
            done = svc().advance(actor, matter, "evaluated", data.get("note"), data.get("satisfaction"))
            return _after(matter, done.event_id, done.duplicate, actor)

    @routes.post("/matters/<matter>/handovers")
    def handover_matter(c: Call, matter: str) -> Any:
        actor = c.actor
        data = c.body
        with backend.lock:
            done = svc().handover(
                actor, matter, data.get("step"), to=data.get("to"), grid=data.get("grid"),
                department=data.get("department"), reason=data.get("reason"),
                request_id=_opt_str(data, "request_id"),
            )
            return _after(matter, done.event_id, done.duplicate, actor)

    # -- evaluations --------------------------------------------------------------------

    @routes.get("/evaluations/weights")
    def get_weights(c: Call) -> Any:
        lang = lang_of(c.args.get("lang"))
        with backend.lock:
            weights = svc().weights()
        return {"items": _items(weights, lang), "total": sum(weights.values())}

    @routes.put("/evaluations/weights")
    def put_weights(c: Call) -> Any:
        actor = c.actor
        data = c.body
        with backend.lock:
            s = svc()
            done = s.set_weights(actor, data.get("weights"))
            weights = s.weights()
        return {"event_id": done.event_id, "items": _items(weights, "zh-CN"), "total": sum(weights.values())}

    @routes.post("/evaluations", body="optional")
    def compute_evaluation(c: Call) -> Any:
        actor = c.actor
        data = c.body
        quarter = data.get("quarter")
        if quarter is not None and not isinstance(quarter, str):
            raise InvalidRequest("quarter must look like 2025Q2", field="quarter")
        scope = data.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise InvalidRequest("scope must be a grid code", field="scope")
        with backend.lock:
            s = svc()
            done, eval_id = s.evaluate(actor, quarter or None, scope or None, data.get("adjustments"),
                                       _opt_str(data, "request_id"))
            rec = s.state.evaluations[eval_id]
        out = {**rec.to_json(), "event_id": done.event_id}
        if done.duplicate:
            out["duplicate"] = True
            return out, 200
        return out, 201

    @routes.get("/evaluations")
    def list_evaluations(c: Call) -> Any:
        actor = c.actor
        quarter = c.args.get("quarter") or None
        scope = c.args.get("scope") or None
        with backend.lock:
            s = svc()
            s.refresh()
            tree = backend.county.tree
            items = [
                r.to_json() for r in s.state.evaluations.values()
                if r.scope in tree and overlaps_scope(actor, tree, r.scope)
                and (quarter is None or r.quarter == quarter) and (scope is None or r.scope == scope)
            ]
            current = quarter_of(backend.county.clock()).id
        items.sort(key=lambda r: (r["computed_at"], r["evaluation_id"]), reverse=True)
        return {"evaluations": items, "current_quarter": current}

    def _table(actor: Actor, evaluation: str) -> dict[str, Any]:
        with backend.lock:
            s = svc()
            table = s.table(evaluation)
            tree = backend.county.tree
            rec = s.state.evaluations[evaluation]
        if rec.scope in tree and not within_scope(actor, tree, rec.scope):
            # A reader inside the evaluation's scope sees the grids of its own scope only.
            if not overlaps_scope(actor, tree, rec.scope):
                raise NotAuthorised(f"{rec.scope} is outside your scope {actor.scope}", field="evaluation")
            table = dict(table)
            table["grids"] = [r for r in table["grids"] if within_scope(actor, tree, r["grid"])]
            mine = {r["grid"] for r in table["grids"]}
            table["leaders"] = [r for r in table["leaders"] if set(r["grids"]) & mine]
        return {"evaluation_id": evaluation, "digest": rec.digest, "computed_at": rec.at,
                "computed_by": rec.actor, **table}

    @routes.get("/evaluations/<evaluation>")
    def get_evaluation(c: Call, evaluation: str) -> Any:
        return _table(c.actor, evaluation)

    @routes.post("/evaluations/<evaluation>/verify", body="optional")
    def verify_evaluation(c: Call, evaluation: str) -> Any:
        actor = c.actor
        with backend.lock:
            s = svc()
            s.refresh()
            rec = s.state.evaluations.get(evaluation)
            if rec is None:
                raise UnknownEvaluation(f"unknown evaluation {evaluation!r}", field="evaluation")
            tree = backend.county.tree
            require_read(actor, tree, rec.scope, field="evaluation")
            stored = s.table(evaluation)
            table, digest = recompute(backend.county, rec)
        return {"evaluation_id": evaluation, "digest": rec.digest, "recomputed": digest,
                "equal": digest == rec.digest and table == stored}

    routes.register(api, backend)

    @api.get("/evaluations/<evaluation>/export")
    @handler
    def export_evaluation(evaluation: str) -> Any:
        fmt = request.args.get("format", "csv")
        lang = lang_of(request.args.get("lang"))
        if fmt not in ("csv", "xlsx", "html"):
            raise InvalidRequest("format must be one of: csv, xlsx, html", field="format")
        table = _table(backend.actor(), evaluation)
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in evaluation)
        if fmt == "csv":
            resp = Response(render_csv(table, lang), mimetype="text/csv; charset=utf-8")
        elif fmt == "xlsx":
            resp = Response(render_xlsx(table, lang),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        else:
            resp = Response(render_html(table, lang), mimetype="text/html; charset=utf-8")
        resp.headers["Content-Disposition"] = f'attachment; filename="evaluation-{name}.{fmt}"'
        return resp


def _items(weights: dict[str, float], lang: str) -> list[dict[str, Any]]:
    return [
        {"item": i.code, "category": i.category, "weight": weights.get(i.code, i.weight),
         "default": float(i.weight), "source": "log" if i.logged else "manual",
         "label": t(f"eval.item.{i.code}", lang), "category_label": t(f"eval.cat.{i.category}", lang)}
        for i in ev_commands.CHECKLIST
    ]


# -- exports ---------------------------------------------------------------------------------


def _inert(value: Any) -> Any:
    """A cell no spreadsheet will run as a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _grid_rows(table: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    items = [i["item"] for i in table["items"]]
    header = [t("eval.col.rank", lang), t("eval.col.grid", lang), t("eval.col.name", lang),
              t("eval.col.first_leader", lang), t("eval.col.score", lang), t("eval.col.stars", lang),
              t("eval.col.matters", lang), *(t(f"eval.item.{i}", lang) for i in items)]
    rows = [
        [r["rank"], r["grid"], _inert(r["name"]), _inert(r["first_leader"] or ""), r["score"], r["stars"],
         r["matters"], *(r["values"][i] for i in items)]
        for r in table["grids"]
    ]
    return header, rows


def _leader_rows(table: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    header = [t("eval.col.rank", lang), t("eval.col.leader", lang), t("eval.col.grids", lang),
              t("eval.col.score", lang), t("eval.col.stars", lang)]
    rows = [[r["rank"], _inert(r["leader"]), " ".join(r["grids"]), r["score"], r["stars"]] for r in table["leaders"]]
    return header, rows


def _title(table: dict[str, Any], lang: str) -> str:
    return t("eval.title", lang, quarter=table["quarter"], scope=table["scope"])


def render_csv(table: dict[str, Any], lang: str) -> bytes:
    """The grids' table, UTF-8 with a byte-order mark (spreadsheet programs then read Chinese)."""
    header, rows = _grid_rows(table, lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def render_xlsx(table: dict[str, Any], lang: str) -> bytes:
    """Three sheets: grids, first leaders, the checklist with its weights."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    wb.properties.creator = "wartime"
    wb.properties.title = _title(table, lang)
    for sheet, (header, rows) in (
        ("eval.sheet.grids", _grid_rows(table, lang)),
        ("eval.sheet.leaders", _leader_rows(table, lang)),
    ):
        ws = wb.create_sheet(t(sheet, lang)[:31])
        ws.append(header)
        for row in rows:
            ws.append(row)
    ws = wb.create_sheet(t("eval.sheet.items", lang)[:31])
    ws.append([t("eval.col.category", lang), t("eval.col.item", lang), t("eval.col.weight", lang),
               t("eval.col.source", lang)])
    for i in table["items"]:
        ws.append([t(f"eval.cat.{i['category']}", lang), t(f"eval.item.{i['item']}", lang), i["weight"],
                   t(f"eval.source.{i['source']}", lang)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_html(table: dict[str, Any], lang: str) -> bytes:
    """A printable page: the ranking of grids and of first leaders (every value escaped)."""
    e = html.escape

    def tab(header: list[str], rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{e(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    gh, gr = _grid_rows(table, lang)
    lh, lr = _leader_rows(table, lang)
    short = 7
    title = e(_title(table, lang))
    doc = (
        f"<!doctype html><html lang=\"{e(lang)}\"><head><meta charset=\"utf-8\"><title>{title}</title>"
        "<style>body{font-family:'Noto Sans SC','Noto Sans CJK SC',sans-serif;margin:24px;color:#1d2533}"
        "table{border-collapse:collapse;margin:12px 0 28px;font-size:13px}"
        "th,td{border:1px solid #ccd2da;padding:4px 8px;text-align:left}th{background:#f3eded}</style>"
        f"</head><body><h1>{title}</h1>"
        f"<h2>{e(t('eval.sheet.grids', lang))}</h2>{tab(gh[:short], [r[:short] for r in gr])}"
        f"<h2>{e(t('eval.sheet.leaders', lang))}</h2>{tab(lh, lr)}</body></html>"
    )
    return strip_controls(doc).encode("utf-8")

