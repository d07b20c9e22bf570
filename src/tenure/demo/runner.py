"""Run the web server and the background worker as child processes until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType

from django.conf import settings
from rich.console import Console

LOGIN_PATH = "/accounts/login/"
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0


class _Stop(Exception):
    """SIGTERM arrived: leave the wait loop and stop the children."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a name to show, not to bind
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Children must open the same database even if the data directory was the default ./var.
    env["TENURE_DATA_DIR"] = str(settings.DATA_DIR)
    env.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")
    return env


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    # A session of their own: Ctrl-C reaches only us, and we stop the children once, in order.
    return subprocess.Popen(args, env=_child_env(), start_new_session=True)


def web_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "tenure.asgi:application",
        "--host", host, "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def worker_command() -> list[str]:
    return [sys.executable, "-m", "tenure", "worker"]


def wait_until_ready(url: str, web: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT_SECONDS) -> int:
    """Poll the login page; return its HTTP status once it answers, or 0 if the server died or timed out."""
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
                return int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code  # it answers, but not yet (or not) with the page
            if status < 500:
                return status
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    return status


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(
    *,
    host: str,
    port: int,
    console: Console,
    on_ready: Callable[[str], None],
    with_worker: bool = True,
) -> int:
    """Start web (and worker), call `on_ready(url)` once the login page answers, run until stopped.

    Returns the exit code for the command: 0 after Ctrl-C/SIGTERM, 1 if the web server failed.
    """
    url = public_url(host, port)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    children: list[subprocess.Popen[bytes]] = []
    try:
        web = _start(web_command(host, port))
        children.append(web)
        worker = _start(worker_command()) if with_worker else None
        if worker is not None:
            children.append(worker)
        status = wait_until_ready(url.rstrip("/") + LOGIN_PATH, web)
        if status == 0:
            console.print(f"[red]The web server did not come up on {url} (is the port free?).[/red]")
            return 1
        if status != 200:
            console.print(f"[yellow]The login page answered HTTP {status}.[/yellow]")
        on_ready(url)
        worker_reported = False
        while True:
            if web.poll() is not None:
                console.print(f"[red]The web server stopped (exit code {web.returncode}).[/red]")
                return 1
            if worker is not None and worker.poll() is not None and not worker_reported:
                console.print(
                    f"[yellow]The background worker stopped (exit code {worker.returncode}); "
                    "pages work, background jobs will wait until `tenure worker` runs.[/yellow]"
                )
                worker_reported = True
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        console.print("Stopping…")
        return 0
    finally:
        stop(children)
        signal.signal(signal.SIGTERM, previous)
