"""`tenure field learn` refits job durations, travel error and window calibration from finished jobs;
`tenure field report` prints promised vs actual arrivals (and can write the weekly chart as SVG);
`tenure field plan --date D` re-plans a day; `tenure field move JOB --technician T --at HH:MM` moves a job
by hand (checked, and pinned to that technician so later re-plans keep it there)."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenure.field import report
from tenure.field.learning import learn
from tenure.field.models import Appointment, Technician
from tenure.field.routing.planning import MoveRefused, business_zone, move_job, replan

PLAN = "field.change_dayplan"


class Command(BaseCommand):
    help = "Field service: learn from finished jobs, report promised vs actual arrival windows."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="subcommand", required=True)
        learning = actions.add_parser(
            "learn", help="refit durations, travel error and window calibration now"
        )
        learning.add_argument("--target", type=float, default=None, help="stated coverage, e.g. 0.9")
        reporting = actions.add_parser(
            "report", help="arrivals inside the promised window, by week and technician"
        )
        reporting.add_argument("--days", type=int, default=90)
        reporting.add_argument(
            "--chart", type=Path, default=None, help="write the weekly chart to this SVG file"
        )

        planning = actions.add_parser("plan", help="re-plan one day from where it stands (pinned jobs stay)")
        planning.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
        planning.add_argument(
            "--user", default=None, help="act as this staff user (needs field.change_dayplan)"
        )
        moving = actions.add_parser(
            "move", help="move a job to a technician and start time, if it still works"
        )
        moving.add_argument("appointment", help="appointment id or JOB-<id>")
        moving.add_argument("--technician", required=True, help="technician id or exact name")
        moving.add_argument(
            "--at", required=True, help="start time HH:MM on the job's day, or an ISO datetime"
        )
        moving.add_argument(
            "--user", default=None, help="act as this staff user (needs field.change_dayplan)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["subcommand"] == "plan":
            self._plan(options)
            return
        if options["subcommand"] == "move":
            self._move(options)
            return
        if options["subcommand"] == "learn":
            target = options["target"]
            if target is not None and not 0.5 <= target <= 0.99:
                raise CommandError("--target is a coverage between 0.5 and 0.99")
            row = learn(now, target)
            self.stdout.write(
                json.dumps(
                    {
                        "target_coverage": row.target_coverage,
                        "model_level": round(row.model_level, 3),
                        "observed_coverage": row.observed_coverage,
                        "promises_scored": row.samples,
                        "travel_log_bias": round(row.travel_log_bias, 3),
                        "travel_log_sigma": round(row.travel_log_sigma, 3),
                        "last_look_bar": round(row.last_look_bar, 4),
                    }
                )
            )
            return
        if not 1 <= options["days"] <= 730:
            raise CommandError("--days is between 1 and 730")
        result = report.coverage(now - dt.timedelta(days=options["days"]), now)
        self.stdout.write(json.dumps(result.as_dict(), default=str))
        if options["chart"] is not None:
            try:
                options["chart"].write_text(result.chart(), encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot write {options['chart']}: {error.strerror}") from None

    def _user(self, username: str | None) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"there is no active user {username!r}")
        if not user.has_perm(PLAN):
            raise CommandError(f"{username} may not re-plan or move jobs (needs {PLAN})")
        return user

    def _plan(self, options: dict[str, Any]) -> None:
        try:
            day = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(f"--date {options['date']!r} is not a date like 2031-03-04") from None
        result = replan(day, user=self._user(options["user"]))
        self.stdout.write(
            json.dumps(
                {
                    "date": day.isoformat(),
                    "planned": result.planned,
                    "changed_routes": result.changed_routes,
                    "unassigned": {str(k): v for k, v in result.unassigned.items()},
                }
            )
        )

    def _move(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        raw = str(options["appointment"]).upper().removeprefix("JOB-")
        appointment = Appointment.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
        if appointment is None:
            raise CommandError(f"there is no appointment {options['appointment']!r}")
        name = options["technician"]
        technician = (
            Technician.objects.filter(pk=int(name)).first()
            if name.isdigit()
            else Technician.objects.filter(name=name).first()
        )
        if technician is None:
            raise CommandError(f"there is no technician {name!r}")
        start_at = self._start(options["at"], appointment)
        try:
            stops = move_job(appointment.pk, technician.pk, start_at, user=user)
        except MoveRefused as refused:
            raise CommandError("move refused: " + "; ".join(refused.reasons)) from None
        self.stdout.write(
            json.dumps(
                {
                    "job": appointment.reference,
                    "technician": technician.name,
                    "start_at": start_at.isoformat(),
                    "route": [f"JOB-{stop.job}" for stop in stops],
                    "pinned": True,
                }
            )
        )

    @staticmethod
    def _start(text: str, appointment: Appointment) -> dt.datetime:
        try:
            clock = dt.time.fromisoformat(text)
        except ValueError:
            clock = None
        if clock is not None:
            if appointment.window_start is None:
                raise CommandError(f"{appointment.reference} has no window yet; give a full date and time")
            day = appointment.window_start.astimezone(business_zone()).date()
            return dt.datetime.combine(day, clock, tzinfo=business_zone())
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--at {text!r} is neither HH:MM nor an ISO date and time") from None
        return when if when.tzinfo else when.replace(tzinfo=business_zone())
