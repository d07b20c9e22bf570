"""A small server-side SVG column chart for the help desk report: no JavaScript, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 14, 34
BAR, LINE = "#1f6feb", "#1a7f37"


def columns_with_share(days: Sequence[tuple[str, int, float | None]], *, title: str) -> SafeString:
    """Requests per day as columns, and the share answered on time (0-100%) as dots on the right scale."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    if not days:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="muted">no requests</text>'
        )
        return mark_safe("".join([*parts, "</svg>"]))  # noqa: S308 - built from escaped parts
    top = max(count for _, count, _ in days) or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / len(days)
    width = max(step * 0.7, 1.0)
    parts.append(f'<text x="4" y="{TOP + 8}" class="label">{top}</text>')
    parts.append(f'<text x="{WIDTH - 4}" y="{TOP + 8}" text-anchor="end" class="label">100%</text>')
    for index, (day, count, share) in enumerate(days):
        x = LEFT + index * step
        height = inner_h * count / top
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + inner_h - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{BAR}"><title>{escape(day)}: {count} request{"s" if count != 1 else ""}</title></rect>'
        )
        if share is not None:
            y = TOP + inner_h * (1 - share / 100)
            parts.append(
                f'<circle cx="{x + width / 2:.1f}" cy="{y:.1f}" r="3" fill="{LINE}">'
                f"<title>{escape(day)}: {share:g}% first responses on time</title></circle>"
            )
    for index in (0, len(days) - 1):
        parts.append(
            f'<text x="{LEFT + index * step:.1f}" y="{HEIGHT - 12}" class="label">{escape(days[index][0])}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 1}" class="label">columns: requests per day · dots: % first responses '
        "on time</text></svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts
