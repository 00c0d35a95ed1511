"""Scripted scenarios: published figures replayed as commands, for demos and tests.

A script is a list of `ScriptStep`s — who does what to which matter — that
`apply_step` turns into events with the ordinary pure commands, so a script
is refused exactly where a person would be. `streams.matters.run_script`
appends a script to a county's log.

`qingcao_matters` reproduces Qingcao town's published year (FIGURES.md): 144
matters reported by grid workers, 102 closed within the grid, 39 passed to
village grids, 3 passed to the town office — every one handled (completion
100%), published and evaluated by the resident. Grid workers record and
deliberate on their small grids; the village's matters are handled by the
village (medium) grid's leader; the town's go up through the village to the
town, whose commander dispatches each to a town office and handles it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from command.access import Actor, Role
from command.events import Event
from command.grids import GridTree, Level
from command.matters import MatterRequest, MattersState, advance, handover, record

__all__ = ["ScriptStep", "apply_step", "qingcao_matters"]


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One action of a script: ``record``, ``advance`` or ``handover`` on a matter, by an actor."""

    actor: Actor
    action: str
    matter: str
    args: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""


def apply_step(state: MattersState, tree: GridTree, step: ScriptStep, now: int) -> Event:
    """The event a step stands for, decided by the same commands the API runs."""
    a = step.args
    if step.action == "record":
        req = MatterRequest(step.matter, a.get("grid"), a.get("category"), a.get("description"),
                            a.get("reporter", ""), a.get("photo", ""), a.get("reported_at"))
        return record(state, tree, step.actor, req, now)
    if step.action == "advance":
        return advance(state, tree, step.actor, step.matter, a.get("stage"), a.get("note", ""),
                       a.get("satisfaction"))
    if step.action == "handover":
        return handover(state, tree, step.actor, step.matter, a.get("step"), to=a.get("to"), grid=a.get("grid"),
                        department=a.get("department", ""), reason=a.get("reason", ""))
    raise ValueError(f"unknown script action {step.action!r}")


_TEMPLATES: dict[str, tuple[str, ...]] = {
    "dispute": ("邻里宅基地边界纠纷", "两户因排水沟发生争执", "赡养老人问题家庭矛盾", "土地流转租金纠纷"),
    "environment": ("村道旁垃圾堆积无人清运", "沟渠淤塞有异味", "养殖粪污影响邻居", "公厕损坏需维修"),
    "livelihood": ("独居老人申请临时救助", "残疾人补贴咨询办理", "低保户反映看病困难", "留守儿童上学接送困难"),
    "property": ("小区楼道灯不亮", "小区电梯故障", "物业费收取有争议", "楼顶漏水影响住户"),
    "policy": ("咨询医保缴费政策", "咨询高龄津贴申领", "咨询农房改造补助", "咨询就业培训报名"),
    "infrastructure": ("村组道路破损坑洼", "自来水管爆裂停水", "路灯损坏夜间出行不便", "桥梁护栏缺失"),
    "safety": ("废弃鱼塘无护栏存在溺水隐患", "电线私拉乱接存在火灾隐患", "危房存在倒塌风险", "山塘坝体渗水"),
    "urgent": ("老人走失需协助寻找", "突发火情需处置", "暴雨致房屋进水"),
    "other": ("反映流浪犬伤人", "建议增设公交站点", "反映噪音扰民"),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗汪方储程"
_GIVEN = "建国秀英志强桂兰明华春梅德胜玉珍国庆海燕金凤长青丽娟新民红霞"
_VILLAGE_KINDS = ("infrastructure", "dispute", "environment", "safety", "livelihood")
_GRID_KINDS = ("dispute", "environment", "livelihood", "property", "policy", "other", "urgent", "dispute",
               "environment", "livelihood")
_TOWN_KINDS = ("infrastructure", "safety", "dispute")
_TOWN_OFFICES = ("镇综治办", "镇司法所", "镇规划建设办")


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))


def _village_of(tree: GridTree, grid: str) -> str | None:
    for g in tree.ancestors(grid):
        if tree[g].level in (Level.MEDIUM, Level.LARGE):
            return g
    return None


def qingcao_matters(
    tree: GridTree, *, seed: int = 144, in_grid: int = 102, village: int = 39, town: int = 3, prefix: str = "qc"
) -> list[ScriptStep]:
    """Qingcao's published split of matters as a script over the small grids of `tree`."""
    rng = random.Random(seed)
    smalls = sorted(c for c, g in tree.grids.items() if g.level == Level.SMALL)
    in_villages = [c for c in smalls if _village_of(tree, c) is not None]
    if not in_villages:
        raise ValueError("the tree has no small grid under a village")
    plan = ["grid"] * in_grid + ["village"] * village + ["town"] * town
    rng.shuffle(plan)
    steps: list[ScriptStep] = []
    for i, kind in enumerate(plan, 1):
        mid = f"{prefix}-{i:03d}"
        small = rng.choice(smalls if kind == "grid" else in_villages)
        worker = Actor(f"worker-{small}", Role.LEADER, small)
        pool = _GRID_KINDS if kind == "grid" else _VILLAGE_KINDS if kind == "village" else _TOWN_KINDS
        category = rng.choice(pool)
        desc = rng.choice(_TEMPLATES[category])
        steps.append(ScriptStep(worker, "record", mid, {
            "grid": small, "category": category, "description": desc, "reporter": _name(rng),
        }))
        if kind == "grid":
            steps.append(ScriptStep(worker, "advance", mid, {"stage": "deliberated", "note": "网格议事：就地协调"}))
            steps.append(ScriptStep(worker, "advance", mid, {"stage": "handled", "note": "已在网格内办结"}))
        else:
            steps.append(ScriptStep(worker, "advance", mid, {"stage": "deliberated", "note": "超出网格能力，提请上报"}))
            vil = _village_of(tree, small)
            assert vil is not None
            steps.append(ScriptStep(worker, "handover", mid, {
                "step": "report", "to": "village", "grid": vil, "reason": "需村级协调资源解决",
            }, key=f"matter:{mid}:handover:1"))
            vactor = Actor(f"village-{vil}", Role.LEADER, vil)
            if kind == "village":
                steps.append(ScriptStep(vactor, "advance", mid, {"stage": "handled", "note": "村级协调办结"}))
            else:
                town_code = tree.town_of(small) or tree.root
                steps.append(ScriptStep(vactor, "handover", mid, {
                    "step": "report", "to": "town", "reason": "涉及多个村组，需镇级统筹",
                }, key=f"matter:{mid}:handover:2"))
                tactor = Actor(f"town-{town_code}", Role.COMMANDER, town_code)
                steps.append(ScriptStep(tactor, "handover", mid, {
                    "step": "dispatch", "department": rng.choice(_TOWN_OFFICES), "reason": "按职责分派办理",
                }, key=f"matter:{mid}:handover:3"))
                steps.append(ScriptStep(tactor, "advance", mid, {"stage": "handled", "note": "镇级统筹办结"}))
        steps.append(ScriptStep(worker, "advance", mid, {"stage": "published", "note": "结果已在网格公示栏公开"}))
        score = rng.choices((5, 4, 3), weights=(70, 25, 5))[0]
        steps.append(ScriptStep(worker, "advance", mid, {"stage": "evaluated", "satisfaction": score,
                                                         "note": "群众回访"}))
    return steps
