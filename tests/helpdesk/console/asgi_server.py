"""A real ASGI server (uvicorn, the same command `tenure serve` runs) on the test database, on a free port."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tenure.demo.runner import wait_until_ready, web_command
from tests.core.conftest import REPO_ROOT, test_database_url
from tests.loopback import free_port

# Origins of pages that may embed the widget in these tests (the server's own host is always allowed).
SHOP_ORIGIN = "http://shop.test"


@contextmanager
def asgi_server(log_dir: Path, **env: str) -> Iterator[str]:
    """Serve Tenure with uvicorn against the database of the running test; yields its base URL."""
    port = free_port()
    log = log_dir / f"uvicorn-{port}.log"
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    child_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "TENURE_DATA_DIR": str(settings.DATA_DIR),
        # Sessions and visitor tokens made by the test must verify in the server.
        "TENURE_SECRET_KEY": settings.SECRET_KEY,
        "TENURE_CHAT_ORIGINS": SHOP_ORIGIN,
        "PYTHONPATH": python_path,
        **env,
    }
    child_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            web_command("127.0.0.1", port),
            env=child_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if wait_until_ready(f"{url}/accounts/login/", process) != 200:
            raise AssertionError(f"uvicorn did not come up:\n{log.read_text(errors='replace')}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_log(log_dir: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(log_dir.glob("uvicorn-*.log")))


# A guard against hangs, not a speed check.
FRAME_DEADLINE_SECONDS = 60.0


def open_socket(base_url: str, path: str, *, origin: str | None = None, cookie: str = "") -> ClientConnection:
    """A real websocket client (the `websockets` library) to the server; never through a proxy."""
    headers = {"Cookie": cookie} if cookie else None
    return connect(
        base_url.replace("http://", "ws://") + path,
        origin=Origin(origin or base_url),
        additional_headers=headers,
        proxy=None,
        open_timeout=30,
    )


def read_until(
    socket: ClientConnection, wanted: Callable[[dict[str, Any]], bool], what: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read frames until one matches; returns it and every frame read before it."""
    give_up = time.monotonic() + FRAME_DEADLINE_SECONDS
    before: list[dict[str, Any]] = []
    while True:
        left = give_up - time.monotonic()
        if left <= 0:
            raise AssertionError(f"gave up waiting for {what}; got {before}")
        try:
            frame = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            continue
        if wanted(frame):
            return frame, before
        before.append(frame)


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("type") == kind
