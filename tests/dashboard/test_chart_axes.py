"""The after-action progress chart labels elapsed time in units that fit the operation's span."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from command.report import build_report, fold_records
from dashboard.components.axes import HOUR, MINUTE, SECOND, elapsed_unit
from dashboard.reports.charts import _pace_chart
from tests.command.test_report import OP, operation_log


@pytest.mark.parametrize(("span", "unit"), [
    (0, "s"), (90 * SECOND, "s"), (2 * MINUTE, "min"), (150 * MINUTE, "min"), (3 * HOUR, "h"), (72 * HOUR, "h"),
])
def test_the_unit_follows_the_span(span: int, unit: str) -> None:
    assert elapsed_unit(span)[1] == unit


@pytest.mark.parametrize(("spread", "unit", "en", "zh"), [(100, "s", "s", "秒"), (20_000, "min", "min", "分钟")])
def test_a_short_operation_is_charted_in_seconds_or_minutes(spread: int, unit: str, en: str, zh: str) -> None:
    log = operation_log(reports=30, spread=spread)  # deadline 40 × spread after launch
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    for lang, label in (("en", en), ("zh-CN", zh)):
        ax = _pace_chart(Figure(), r, lang).axes[0]
        assert ax.get_xlabel() == label
        xs = [x for line in ax.get_lines() for x in line.get_xdata()]
        assert max(xs) >= 2  # whole units on the axis, not 0.00005 hours


def test_a_far_deadline_does_not_squash_a_short_operation_to_a_sliver() -> None:
    from dashboard.components.axes import curve_end

    launched = 1_700_000_000_000
    end, inside = curve_end(launched, launched + 5 * MINUTE, launched + 72 * HOUR)
    assert not inside and end - launched < 6 * MINUTE  # the five minutes fill the axis
    end, inside = curve_end(launched, launched + 50 * HOUR, launched + 72 * HOUR)
    assert inside and end >= launched + 72 * HOUR  # a deadline within reach is on the axis


def test_the_report_chart_spans_the_data_of_a_five_minute_operation() -> None:
    log = operation_log(reports=30, spread=20_000)  # ~5 minutes of reports, deadline 40 × spread after launch
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    ax = _pace_chart(Figure(), r, "en").axes[0]
    last = (max(r.pace["time"]) - r.launched_at) / MINUTE
    assert ax.get_xlim()[1] < last * 1.1
