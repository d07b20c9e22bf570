"""Small helpers shared by the import and export tests."""

from __future__ import annotations

import io
import textwrap

from tenure.customers.models import Customer, Lifecycle


def csv_file(text: str) -> io.BytesIO:
    """A binary stream of the dedented text, as an uploaded or opened file would be."""
    return io.BytesIO(textwrap.dedent(text).lstrip("\n").encode())


def customer(ref: str, name: str | None = None, lifecycle: str = Lifecycle.ACTIVE) -> Customer:
    return Customer.objects.create(name=name or f"Customer {ref}", external_ref=ref, lifecycle=lifecycle)


def messages(report: object) -> list[str]:
    return [str(error) for error in report.errors]  # type: ignore[attr-defined]
