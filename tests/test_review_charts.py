"""The server-drawn SVG charts: a bar per place with the target line, red under the target, labels escaped."""

from backend.review.charts import BELOW, BRAND, coverage_bars, trend_line


def test_bars_under_the_target_are_red_and_a_place_with_nothing_due_says_so() -> None:
    svg = str(
        coverage_bars(
            [("东岭村", 0.97), ("西河村", 0.5), ("南坪村", None)],
            0.95,
            title="t",
            target_label="目标95%",
            empty_label="本期无应访",
        )
    )
    assert svg.count("<rect") == 2 + 3  # a track per place, a bar per place with a figure
    assert f'fill="{BRAND}"><title>东岭村 97%' in svg and f'fill="{BELOW}"><title>西河村 50%' in svg
    assert "本期无应访" in svg and "目标95%" in svg and 'stroke-dasharray="4 3"' in svg


def test_chart_labels_are_escaped() -> None:
    svg = str(coverage_bars([("<script>", 1.0)], 0.95, title="<b>", target_label="t", empty_label="e"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_trend_line_breaks_where_a_month_had_nothing_due() -> None:
    svg = str(
        trend_line(
            [("1月", 0.9), ("2月", None), ("3月", 0.96), ("4月", 0.97)], 0.95, title="t", target_label="目标"
        )
    )
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
