"""Rolled-up alerts say what the log says at the round after it changed (issue 14 item 10), real Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from command.alerts import MINUTE, AlertConfig
from command.cap import CAP_NS, to_cap
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.alerting import AlertEvaluator
from tests.streams.test_alerting import BOSS, _apply, _county

NS = {"cap": CAP_NS}


def test_a_second_grid_over_target_is_in_the_count_and_the_cap_headline_a_minute_later(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(BOSS, "mass_testing", "TC", "核酸", operation="op1")
    leaves = sorted(county.tree.leaves("TC01"))
    evaluator = AlertEvaluator(county, AlertConfig(silent_minutes=100_000))  # default update interval
    now = county.clock()
    county.report_many(BOSS, [ReportRequest("op1", "a", leaves[0], {"sampled": 40})])
    _apply(county)
    evaluator.run(now)
    alert_id = "over_target:op1:TC01"
    assert county.refresh().alerts[alert_id].detail["count"] == 1
    county.report_many(BOSS, [ReportRequest("op1", "b", leaves[1], {"sampled": 40})])
    _apply(county)
    evaluator.run(now + MINUTE)
    st = county.refresh()
    alert = st.alerts[alert_id]
    assert alert.detail["count"] == 2 and alert.detail["grids"] == leaves[:2]
    root = ET.fromstring(to_cap(alert, st))
    assert root.findtext("cap:msgType", namespaces=NS) == "Update"
    headlines = [i.findtext("cap:headline", namespaces=NS) or "" for i in root.findall("cap:info", NS)]
    assert "2个网格" in headlines[0] and "2 grid" in headlines[1]
    codes = [g.findtext("cap:value", namespaces=NS) for g in root.findall("cap:info/cap:area/cap:geocode", NS)]
    assert codes == leaves[:2] * 2  # the affected grids, in both languages
    assert evaluator.run(now + 2 * MINUTE).appended == 0  # nothing new: nothing written
