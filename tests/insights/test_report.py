from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    out = StringIO()
    call_command("insights", "report", "-o", str(output), stdout=out)
    html = output.read_text()
    assert "Retention report" in html and "customers at high risk" in html
    assert (
        "<script" not in html
        and 'rel="stylesheet"' not in html
        and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    assert "wrote" in out.getvalue()


def test_report_to_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="insights report failed"):
        call_command("insights", "report", "-o", str(tmp_path / "missing" / "r.html"), stdout=StringIO())
