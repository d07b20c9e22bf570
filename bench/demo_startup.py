"""How long from typing `tenure demo` (fresh data directory) to the first HTTP 200 on the login page.

Run:  python bench/demo_startup.py [--customers 3000] [--months 18] [--seed 7]

It runs the real command on the embedded default (SQLite in a new temporary data directory), polls
the login page until it answers 200, prints the wall time against the 60 s aim, then stops the demo.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

AIM_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_200(url: str, process: subprocess.Popen[bytes]) -> float | None:
    while process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
                if response.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tenure-bench-demo-") as data_dir:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["TENURE_DATA_DIR"] = data_dir
        port = free_port()
        command = [
            sys.executable, "-m", "tenure", "demo", "--port", str(port), "--seed", str(args.seed),
            "--customers", str(args.customers), "--months", str(args.months),
        ]  # fmt: skip
        log = Path(data_dir) / "demo.log"
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                ready = first_200(f"http://127.0.0.1:{port}/accounts/login/", process)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait()
        if ready is None:
            print(log.read_text(), file=sys.stderr)
            print("tenure demo exited before the login page answered", file=sys.stderr)
            return 1
        seconds = ready - started
        print(
            f"machine: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
        )
        print(f"size: {args.customers} customers, {args.months} months, seed {args.seed}")
        print(f"tenure demo -> first HTTP 200 on the login page: {seconds:.1f} s (aim < {AIM_SECONDS:.0f} s)")
        print("within the aim" if seconds < AIM_SECONDS else "OVER the aim")
        print(f"command: python bench/demo_startup.py --customers {args.customers} --months {args.months}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
