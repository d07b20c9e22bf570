from __future__ import annotations

import xml.etree.ElementTree as ET

from tenure.insights.charts import Series, _nice_ticks, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_line_chart_is_valid_svg_with_one_line_per_series_and_a_band() -> None:
    chart = line_chart(
        [
            Series(
                "Overall", [(0, 1.0), (1, 0.9), (2, 0.8)], band=[(0, 1, 1), (1, 0.85, 0.95), (2, 0.7, 0.9)]
            ),
            Series("Companies", [(0, 1.0), (1, 0.95), (2, 0.9)]),
        ],
        title="Survival",
        y_format=lambda y: f"{y:.0%}",
    )
    root = ET.fromstring(str(chart))
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}polygon")) == 1
    assert "Companies" in str(chart) and "90%" in str(chart)


def test_labels_are_escaped() -> None:
    chart = bar_chart([("<script>alert(1)</script>", 3.0, 1.0, 5.0)], title="a & b")
    assert "<script>" not in str(chart)
    ET.fromstring(str(chart))


def test_empty_charts_say_so() -> None:
    assert "No data yet" in line_chart([], title="x")
    assert "No data yet" in bar_chart([], title="x")


def test_ticks_are_round_numbers_covering_the_range() -> None:
    assert _nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert _nice_ticks(0, 37) == [0, 10, 20, 30]
    ticks = _nice_ticks(0.013, 0.048)
    assert all(0.013 <= t <= 0.048 for t in ticks) and len(ticks) >= 3
