"""The day's routes drawn as inline SVG: homes as squares, jobs as dots coloured by technician, each route
as a line from home through its stops and back. Coordinates only; no map tiles, nothing fetched."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

from tenure.field.models import Appointment, Technician

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7f8c", "#57606a")
WIDTH, HEIGHT, PAD = 640, 420, 24


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def route_map(
    technicians: Sequence[Technician], routes: dict[int, list[Appointment]], loose: Sequence[Appointment]
) -> SafeString:
    points = [(t.home_lat, t.home_lon) for t in technicians]
    points += [
        (a.lat, a.lon) for stops in routes.values() for a in stops if a.lat is not None and a.lon is not None
    ]
    points += [(a.lat, a.lon) for a in loose if a.lat is not None and a.lon is not None]
    if not points:
        return mark_safe(  # noqa: S308 (fixed markup)
            f'<svg class="route-map" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="map">'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">nothing to map</text></svg>'
        )
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    # Equirectangular at the mean latitude keeps distances honest over a city.
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squeeze, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return PAD + (lon - min(lons)) * squeeze * scale, HEIGHT - PAD - (lat - min(lats)) * scale

    parts = [
        f'<svg class="route-map" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="routes on a map">'
    ]
    for index, tech in enumerate(technicians):
        stops = [a for a in routes.get(tech.pk, []) if a.lat is not None and a.lon is not None]
        home = xy(tech.home_lat, tech.home_lon)
        path = [home, *(xy(a.lat, a.lon) for a in stops), home]  # type: ignore[arg-type]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in path)
        parts.append(
            f'<polyline class="route" data-technician="{tech.pk}" points="{line}" fill="none" '
            f'stroke="{colour(index)}" stroke-width="2" stroke-opacity="0.7"/>'
        )
        parts.append(
            f'<rect x="{home[0] - 5:.1f}" y="{home[1] - 5:.1f}" width="10" height="10" fill="{colour(index)}">'
            f"<title>{escape(tech.name)} (home base)</title></rect>"
        )
        for order, appointment in enumerate(stops, start=1):
            x, y = xy(appointment.lat, appointment.lon)  # type: ignore[arg-type]
            parts.append(
                f'<circle class="stop" data-job="{appointment.pk}" cx="{x:.1f}" cy="{y:.1f}" r="6" '
                f'fill="{colour(index)}"><title>{order}. {escape(appointment.reference)} '
                f"{escape(appointment.address[:60])}</title></circle>"
            )
    for appointment in loose:
        if appointment.lat is None or appointment.lon is None:
            continue
        x, y = xy(appointment.lat, appointment.lon)
        parts.append(
            f'<circle class="stop unplanned" data-job="{appointment.pk}" cx="{x:.1f}" cy="{y:.1f}" r="6" '
            f'fill="white" stroke="#57606a" stroke-width="2"><title>{escape(appointment.reference)} '
            f"(not planned)</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every label escaped above)
