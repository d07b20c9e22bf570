"""The holdout chart: retention of treated vs holdout customers at each horizon, with 95% intervals.

Server-side SVG, every label escaped, no JavaScript.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

from tenure.journeys.reporting import Arm, Horizon

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 36
TREATED, HOLDOUT = "#1f6feb", "#9a6700"


def _y(value: float) -> float:
    return TOP + (1 - value) * (HEIGHT - TOP - BOTTOM)


def _bar(x: float, width: float, arm: Arm, colour: str, label: str) -> str:
    if arm.rate is None:
        return (
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM - 4}" font-size="10" text-anchor="middle" '
            f'fill="#57606a">no {escape(label)}</text>'
        )
    top, base = _y(arm.rate.estimate), _y(0)
    middle = x + width / 2
    title = f"{label}: {arm.rate.estimate:.1%} of {arm.customers} retained (95% CI {arm.rate.low:.1%} to {arm.rate.high:.1%})"
    return (
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{base - top:.1f}" fill="{colour}">'
        f"<title>{escape(title)}</title></rect>"
        f'<line x1="{middle:.1f}" x2="{middle:.1f}" y1="{_y(arm.rate.low):.1f}" y2="{_y(arm.rate.high):.1f}" '
        f'stroke="#24292f" stroke-width="1.5"/>'
    )


def holdout_chart(horizons: list[Horizon], title: str) -> SafeString:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = _y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick:.0%}</text>'
        )
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(horizons))
    for index, horizon in enumerate(horizons):
        x = LEFT + index * slot
        bar = slot * 0.3
        parts.append(_bar(x + slot * 0.15, bar, horizon.treated, TREATED, "treated"))
        parts.append(_bar(x + slot * 0.55, bar, horizon.holdout, HOLDOUT, "holdout"))
        difference = horizon.difference
        caption = f"{horizon.days} days"
        if difference is not None:
            caption += f" · {difference.estimate:+.1%} ({difference.low:+.1%} to {difference.high:+.1%})"
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - 14}" font-size="11" text-anchor="middle">{escape(caption)}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="6" width="10" height="10" fill="{TREATED}"/>'
        f'<text x="{LEFT + 14}" y="15" font-size="11">treated</text>'
        f'<rect x="{LEFT + 80}" y="6" width="10" height="10" fill="{HOLDOUT}"/>'
        f'<text x="{LEFT + 94}" y="15" font-size="11">holdout (not contacted)</text></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped
