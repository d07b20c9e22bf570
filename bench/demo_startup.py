"""How long from typing `tenure demo` (fresh data directory) to the first HTTP 200 on the login page.

Run:  python bench/demo_startup.py [--customers 3000] [--months 18] [--seed 7]

It runs the real command on the embedded default (SQLite in a new temporary data directory), polls
the login page until it answers 200, prints the wall time against the 60 s aim, then stops the demo.
It also prints the machine's load average before and after (the machine may be shared) and the CPU
seconds the demo used up to the first 200, which a busy machine does not inflate the way it does wall
time, and the demo's own "Today:" line (the present it seeded: requests, appointments, journeys).
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process and its children that have been waited for (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants_cpu(pid: int) -> float:
    """CPU seconds of a process and every live descendant (the demo's web server and worker)."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        stack.extend(int(child) for child in children)
    return total


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
        load_before = os.getloadavg()
        cpu = 0.0
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                ready = first_200(f"http://127.0.0.1:{port}/accounts/login/", process)
                if ready is not None:
                    cpu = descendants_cpu(process.pid)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait()
        if ready is None:
            print(log.read_text(), file=sys.stderr)
            print("tenure demo exited before the login page answered", file=sys.stderr)
            return 1
        seconds = ready - started
        load_after = os.getloadavg()
        today = [line.strip() for line in log.read_text(errors="replace").splitlines() if "Today:" in line]
        print(
            f"machine: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
        )
        print(f"size: {args.customers} customers, {args.months} months, seed {args.seed}")
        print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}")
        print(f"tenure demo -> first HTTP 200 on the login page: {seconds:.1f} s (aim < {AIM_SECONDS:.0f} s)")
        print(f"CPU used by the demo and its children until then: {cpu:.1f} s")
        print(*today[:1] or ["(no 'Today:' line: the present was not seeded)"])
        print("within the aim" if seconds < AIM_SECONDS else "OVER the aim")
        print(f"command: python bench/demo_startup.py --customers {args.customers} --months {args.months}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
