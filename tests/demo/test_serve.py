"""`tenure demo` as a user runs it: a real process that builds, serves, prints the URL and stops on SIGTERM.

It always runs on the embedded default (SQLite in a fresh data directory), which is what `tenure demo` is for.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.loopback import free_port

URL_LINE = re.compile(r"Tenure is running at (http://\S+)")


def test_demo_serves_the_login_page_and_stops_cleanly(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["TENURE_DATA_DIR"] = str(tmp_path)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tenure",
        "demo",
        "--customers",
        "30",
        "--months",
        "2",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            output.append(line)
            if match := URL_LINE.search(line):
                url = match.group(1)
                break
        assert url == f"http://127.0.0.1:{port}/", "".join(output)
        text = "".join(output)
        assert "admin" in text and "technician" in text
        with urllib.request.urlopen(url + "accounts/login/") as response:  # noqa: S310
            assert response.status == 200
            assert b"password" in response.read().lower()
        process.send_signal(signal.SIGTERM)
        # A hang guard, not a speed check: stopping takes a second or two.
        rest, _ = process.communicate(timeout=120)
        output.append(rest)
        assert process.returncode == 0, "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.socket() as sock:
        # Nothing listens any more: the web server child stopped with us.
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_serve_answers_on_an_empty_database_and_stops(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["TENURE_DATA_DIR"] = str(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "tenure", "serve", "--port", str(port), "--no-worker"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        url = next((m.group(1) for line in process.stdout if (m := URL_LINE.search(line))), None)
        assert url == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url + "accounts/login/") as response:  # noqa: S310
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)  # a hang guard, not a speed check
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
