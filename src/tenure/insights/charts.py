"""Small server-side SVG charts: no JavaScript, no CDN, the same markup in pages and in the HTML report.

Every label is escaped; numbers are formatted here, so templates only place the returned markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")
WIDTH, HEIGHT = 640, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 16, 16, 40


@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    # Optional band around the line (e.g. a confidence interval): (x, low, high) per point.
    band: Sequence[tuple[float, float, float]] = field(default_factory=list)


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda value: out_lo + (value - lo) / span * (out_hi - out_lo)


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(step))
    for multiple in (1, 2, 2.5, 5, 10):
        if step <= multiple * magnitude:
            step = multiple * magnitude
            break
    first = (lo // step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        if value >= lo - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_labels: Callable[[float], str] = lambda x: f"{x:g}",
    y_format: Callable[[float], str] = lambda y: f"{y:g}",
    y_min: float | None = None,
    y_max: float | None = None,
) -> SafeString:
    """A line chart with optional shaded bands; an empty series list draws a 'no data' frame."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points] + [
        v for s in series for _, lo, hi in s.band for v in (lo, hi)
    ]
    parts = [_open(title)]
    if not xs:
        parts.append(_empty())
        return mark_safe("".join([*parts, "</svg>"]))  # noqa: S308 - built from escaped parts
    low = min(ys) if y_min is None else y_min
    high = max(ys) if y_max is None else y_max
    sx = _scale(min(xs), max(xs), MARGIN_LEFT, WIDTH - MARGIN_RIGHT)
    sy = _scale(low, high, HEIGHT - MARGIN_BOTTOM, MARGIN_TOP)
    parts.append(_y_axis(_nice_ticks(low, high), sy, y_format))
    parts.append(_x_axis(_nice_ticks(min(xs), max(xs), 6), sx, x_labels))
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if one.band:
            upper = " ".join(f"{sx(x):.1f},{sy(hi):.1f}" for x, _, hi in one.band)
            lower = " ".join(f"{sx(x):.1f},{sy(lo):.1f}" for x, lo, _ in reversed(one.band))
            parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" opacity="0.15"/>')
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in one.points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts.append(_legend(series))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts


def bar_chart(
    bars: Sequence[tuple[str, float, float | None, float | None]],
    *,
    title: str,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
) -> SafeString:
    """Horizontal bars (label, value, optional low, optional high), e.g. customers kept with an interval."""
    row = 26
    height = MARGIN_TOP + row * max(len(bars), 1) + 8
    # Room for the longest label at about 6 px a character, within reason.
    label_width = min(360, max(120, 6 * max((len(label) for label, *_ in bars), default=0) + 12))
    parts = [_open(title, height)]
    if not bars:
        parts.append(_empty(height))
        return mark_safe("".join([*parts, "</svg>"]))  # noqa: S308 - built from escaped parts
    top = max(max(value, high or value) for _, value, _, high in bars) or 1.0
    sx = _scale(0, top, label_width, WIDTH - 70)
    for index, (label, value, low, high) in enumerate(bars):
        y = MARGIN_TOP + index * row
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{max(sx(max(value, 0)) - label_width, 1):.1f}" '
            f'height="16" fill="{PALETTE[0]}" rx="2"/>'
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{sx(max(low, 0)):.1f}" x2="{sx(high):.1f}" y1="{y + 12}" y2="{y + 12}" '
                f'stroke="#24292f" stroke-width="1.5"/>'
            )
        parts.append(
            f'<text x="{sx(max(value, high or value)) + 6:.1f}" y="{y + 16}" class="value">'
            f"{escape(value_format(value))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts


def _open(title: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        "<style>.label,.tick,.legend,.value{font:11px system-ui,sans-serif;fill:#57606a}</style>"
    )


def _empty(height: int = HEIGHT) -> str:
    return f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" class="label">No data yet</text>'


def _y_axis(ticks: list[float], sy: Callable[[float], float], fmt: Callable[[float], str]) -> str:
    lines = []
    for tick in ticks:
        y = sy(tick)
        lines.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(fmt(tick))}</text>'
        )
    return "".join(lines)


def _x_axis(ticks: list[float], sx: Callable[[float], float], fmt: Callable[[float], str]) -> str:
    labels = [
        f'<text x="{sx(x):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle" class="tick">'
        f"{escape(fmt(x))}</text>"
        for x in ticks
    ]
    axis = (
        f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{HEIGHT - MARGIN_BOTTOM}" '
        f'y2="{HEIGHT - MARGIN_BOTTOM}" stroke="#8c959f"/>'
    )
    return axis + "".join(labels)


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = []
    for index, one in enumerate(series):
        x = MARGIN_LEFT + index * 150
        colour = PALETTE[index % len(PALETTE)]
        items.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" class="legend">{escape(one.name)}</text>'
        )
    return "".join(items)
