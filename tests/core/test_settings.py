"""Settings come from the environment; the embedded default is SQLite in WAL mode with immediate transactions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tenure.settings import _database


def _settings_value(data_dir: Path, expression: str, **env: str) -> str:
    code = f"import tenure.settings as s; print({expression})"
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TENURE_SECRET_KEY"}}
    environment.update(TENURE_DATA_DIR=str(data_dir), **env)
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = _settings_value(tmp_path, "s.SECRET_KEY")
    second = _settings_value(tmp_path, "s.SECRET_KEY")
    assert len(first) >= 50
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_processes_starting_together_on_a_new_data_dir_all_get_the_same_whole_key(tmp_path: Path) -> None:
    code = "import tenure.settings as s; print(s.SECRET_KEY)"
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TENURE_SECRET_KEY"}}
    environment["TENURE_DATA_DIR"] = str(tmp_path)
    starting = [
        subprocess.Popen([sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    keys = {process.communicate()[0].strip() for process in starting}
    assert all(process.returncode == 0 for process in starting)
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert [path.name for path in tmp_path.iterdir() if "secret" in path.name] == ["secret_key"]


def test_an_empty_key_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(subprocess.CalledProcessError) as refused:
        _settings_value(tmp_path, "s.SECRET_KEY")
    assert "is empty; delete it and a new key is generated" in refused.value.stderr


def test_secret_key_and_database_from_environment(tmp_path: Path) -> None:
    assert _settings_value(tmp_path, "s.SECRET_KEY", TENURE_SECRET_KEY="from-env") == "from-env"
    engine = _settings_value(
        tmp_path, "s.DATABASES['default']['ENGINE']", DATABASE_URL="postgres://u@db.example:5432/tenure"
    )
    assert engine == "django.db.backends.postgresql"


def test_embedded_default_is_sqlite_file_in_data_dir(tmp_path: Path) -> None:
    name = _settings_value(tmp_path, "s.DATABASES['default']['NAME']")
    assert Path(name) == tmp_path / "tenure.sqlite3"
    assert _settings_value(tmp_path, "s.TIME_ZONE", TENURE_TIME_ZONE="America/Chicago") == "America/Chicago"
    hosts = _settings_value(tmp_path, "s.ALLOWED_HOSTS", TENURE_ALLOWED_HOSTS="crm.example.com, localhost")
    assert hosts == "['crm.example.com', 'localhost']"


def test_sqlite_options_ask_for_wal_and_immediate_transactions(tmp_path: Path) -> None:
    config = _database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


@pytest.mark.django_db
def test_live_sqlite_connection_is_in_wal_mode() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only pragma; this run is on " + connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
