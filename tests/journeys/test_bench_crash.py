"""A small run of bench/journeys.py on the test database: real workers, a real SMTP server process, one
SIGKILL mid-delivery. Counted at the SMTP server: nothing lost, and at most one repeat per kill (only a kill
between the write of a message's end and its lane's note repeats it, see docs/outbox.md). No timing
assertions."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox_models import OutboundMessage
from tests.core.conftest import test_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_journeys", REPO_ROOT / "bench" / "journeys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    bench = load_bench()
    count, kills = 300, 1
    customer_ids = bench.ensure_customers(count)

    result = bench.run_once(
        run="test",
        database_url=test_database_url(),
        data_dir=tmp_path,
        customer_ids=customer_ids,
        workers=2 if connection.vendor == "postgresql" else 1,
        kills=kills,
        spread=2.0,
        lead=1.0,
        give_up_after=120.0,
    )

    assert result["messages"] == count
    assert result["kills"] == kills
    assert result["lost"] == 0, result
    assert result["foreign"] == 0, result
    # A kill in the microseconds between the write of a message's end and its note repeats that one message.
    assert result["duplicated"] <= kills, result
    assert result["not_sent_in_db"] == {}, result
    # A killed worker may have left its batch's `message.sent` events unwritten; a later sweep writes them.
    deliver_due(timezone.now() + dt.timedelta(hours=1))
    assert OutboundMessage.objects.filter(status="sent", send_after__isnull=True).count() == count
    assert Event.objects.filter(kind="message.sent").count() == count
    assert tmp_path != settings.DATA_DIR  # the workers used their own data dir, not the test's
