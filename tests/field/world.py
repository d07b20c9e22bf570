"""A small service company for field tests: two skills, job types, technicians with shifts, customers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, User

from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.field.models import Appointment, JobType, Technician
from tenure.field.services import add_shift, create_job_type, create_technician

UTC = dt.UTC
DAY = dt.date(2030, 3, 4)  # a Monday
CENTRE = (51.50, -0.12)


def at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC) + dt.timedelta(hours=hour)


def near(dlat: float, dlon: float) -> tuple[float, float]:
    return (CENTRE[0] + dlat, CENTRE[1] + dlon)


@dataclass
class World:
    boiler: JobType
    electrics: JobType
    technicians: list[Technician]
    customers: list[Customer] = field(default_factory=list)

    def customer(self, index: int = 0) -> Customer:
        while len(self.customers) <= index:
            n = len(self.customers)
            self.customers.append(
                create_customer(name=f"Customer {n}", identities=[("email", f"c{n}@example.com")])
            )
        return self.customers[index]


def build(technicians: int = 2, days: int = 3, first_day: dt.date = DAY, with_users: bool = True) -> World:
    boiler = create_job_type(code="boiler", name="Boiler service", skills=["gas"], default_minutes=60)
    electrics = create_job_type(code="electrics", name="Electrics", skills=["electric"], default_minutes=45)
    techs = []
    for index in range(technicians):
        user = None
        if with_users:
            user = User.objects.create_user(f"tech{index}", password="x-long-password-1", is_staff=True)
            user.groups.add(Group.objects.get(name="technician"))
        tech = create_technician(
            name=f"Tech {index}", home=near(0.01 * index, 0.0), skills=["gas"], time_zone="UTC", user=user
        )
        for offset in range(days):
            day = first_day + dt.timedelta(days=offset)
            add_shift(tech, at(day, 8), at(day, 17), breaks=[(at(day, 12), at(day, 12.5))])
        techs.append(tech)
    return World(boiler, electrics, techs)


def request(
    world: World, customer: int = 0, where: tuple[float, float] | None = None, **prefs: object
) -> Appointment:
    from tenure.field.booking import request_appointment

    lat, lon = where or near(0.02, 0.02)
    return request_appointment(
        customer_id=world.customer(customer).pk,
        job_type=world.boiler,
        address="1 High Street",
        lat=lat,
        lon=lon,
        preferences=dict(prefs) or None,
        now=at(DAY, 0) - dt.timedelta(days=2),
    )
