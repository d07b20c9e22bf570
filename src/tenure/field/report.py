"""Promised vs actual: how often technicians arrived inside the promised window, by week and by
technician, how many misses were announced before the window started, and a chart of it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape

from tenure.field.models import Appointment

TARGET = 0.9


@dataclass
class Tally:
    arrivals: int = 0
    inside: int = 0
    misses_announced: int = 0

    def add(self, inside: bool, announced: bool) -> None:
        self.arrivals += 1
        self.inside += inside
        self.misses_announced += (not inside) and announced

    @property
    def coverage(self) -> float | None:
        return self.inside / self.arrivals if self.arrivals else None

    @property
    def announced_share(self) -> float | None:
        misses = self.arrivals - self.inside
        return self.misses_announced / misses if misses else None

    def as_dict(self) -> dict[str, object]:
        return {
            "arrivals": self.arrivals,
            "inside": self.inside,
            "coverage": self.coverage,
            "misses_announced": self.announced_share,
        }


@dataclass
class CoverageReport:
    total: Tally = field(default_factory=Tally)
    weeks: dict[dt.date, Tally] = field(default_factory=lambda: defaultdict(Tally))
    technicians: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def as_dict(self) -> dict[str, object]:
        return {
            "target": TARGET,
            "total": self.total.as_dict(),
            "weeks": {week.isoformat(): tally.as_dict() for week, tally in sorted(self.weeks.items())},
            "technicians": {name: tally.as_dict() for name, tally in sorted(self.technicians.items())},
        }

    def chart(self, width: int = 640, height: int = 220) -> str:
        """Weekly coverage as bars against the target line (inline SVG, no script)."""
        weeks = sorted(self.weeks.items())
        if not weeks:
            return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"><text x="10" y="20">no arrivals yet</text></svg>'
        left, bottom, top = 40, 30, 10
        plot_h = height - bottom - top
        bar_w = (width - left - 10) / len(weeks)
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            'aria-label="Share of arrivals inside the promised window, by week">'
        ]
        for index, (week, tally) in enumerate(weeks):
            share = tally.coverage or 0.0
            bar_h = share * plot_h
            x = left + index * bar_w
            colour = "#1a7f37" if share >= TARGET else "#d1242f"
            label = escape(f"week of {week.isoformat()}: {share:.0%} of {tally.arrivals}")
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{top + plot_h - bar_h:.1f}" width="{max(bar_w - 4, 1):.1f}" '
                f'height="{bar_h:.1f}" fill="{colour}"><title>{label}</title></rect>'
            )
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">'
                f"{week:%d %b}</text>"
            )
        target_y = top + plot_h * (1 - TARGET)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{target_y:.1f}" y2="{target_y:.1f}" stroke="#57606a" stroke-dasharray="4 3"/>'
        )
        parts.append(f'<text x="4" y="{target_y + 4:.1f}" font-size="10">{TARGET:.0%}</text>')
        parts.append("</svg>")
        return "".join(parts)


def coverage(since: dt.datetime, until: dt.datetime) -> CoverageReport:
    result = CoverageReport()
    rows = Appointment.objects.filter(
        arrived_at__gte=since, arrived_at__lt=until, window_start__isnull=False, window_end__isnull=False
    ).select_related("technician")
    for appointment in rows.iterator():
        assert appointment.arrived_at and appointment.window_end and appointment.window_start
        inside = appointment.arrived_at <= appointment.window_end
        announced = (
            appointment.notice_sent_at is not None and appointment.notice_sent_at < appointment.window_start
        )
        week = appointment.window_start.date() - dt.timedelta(days=appointment.window_start.weekday())
        name = str(appointment.technician) if appointment.technician else "unassigned"
        result.total.add(inside, announced)
        result.weeks[week].add(inside, announced)
        result.technicians[name].add(inside, announced)
    return result
