"""A throwaway dovecot IMAP server on loopback (tests and bench/imap_ingest.py): its own config, accounts
in a passwd-file, maildirs in a temporary directory; stopped by its PID."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.loopback import free_port

CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((path for path in CANDIDATES if Path(path).exists()), None)


def _config(root: Path, port: int) -> str:
    user = pwd.getpwuid(os.geteuid()).pw_name
    # As root the mail processes drop to nobody; as anyone else dovecot must run everything as that user.
    ids = "uid=nobody gid=nogroup" if os.geteuid() == 0 else f"uid={os.geteuid()} gid={os.getegid()}"
    unprivileged = (
        "" if os.geteuid() == 0 else f"default_login_user = {user}\ndefault_internal_user = {user}\n"
    )
    return f"""
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u/Maildir
{unprivileged}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = {ids}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    accounts: list[tuple[str, str]]

    def take_account(self) -> tuple[str, str]:
        """A fresh (username, password); dovecot reads its passwd-file once, so all are made up front."""
        return self.accounts.pop()

    def client(self, username: str, password: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        conn.login(username, password)
        return conn


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    detail = log.read_text(errors="replace") if log.exists() else "(no log)"
    raise RuntimeError(f"dovecot did not start: {detail}")


@contextmanager
def running_dovecot(binary: str, accounts: int = 200) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="tenure-dovecot-"))
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "mail").chmod(0o777)  # the mail processes run as nobody when we are root
    root.chmod(0o755)
    made = [(f"u{n:03d}{uuid.uuid4().hex[:8]}", uuid.uuid4().hex) for n in range(accounts)]
    (root / "users").write_text("".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in made))
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(_config(root, port))
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(port, process, root / "dovecot.log")
        yield Dovecot(root, port, made)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
