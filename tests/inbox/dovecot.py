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


def make_certificates(directory: Path) -> tuple[Path, Path, Path] | None:
    """A private CA and a server certificate for 127.0.0.1 signed by it (CA, cert, key); None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    ca_key, ca, key, request, cert = (
        directory / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    commands = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=Tenure test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", extensions],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([openssl, *map(str, command)], check=True, capture_output=True)
    key.chmod(0o644)  # dovecot reads it as root, but the login processes may not
    return ca, cert, key


def _tls_config(certificates: tuple[Path, Path, Path] | None, tls_port: int) -> tuple[str, str]:
    """The `ssl` settings and the imaps listener: TLS on its own port when certificates exist."""
    if certificates is None:
        return "ssl = no", "port = 0"
    _, cert, key = certificates
    return (
        f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}",
        f"address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes",
    )


def _config(root: Path, port: int, tls: tuple[str, str]) -> str:
    user = pwd.getpwuid(os.geteuid()).pw_name
    # As root the mail processes drop to nobody; as anyone else dovecot must run everything as that user.
    ids = "uid=nobody gid=nogroup" if os.geteuid() == 0 else f"uid={os.geteuid()} gid={os.getegid()}"
    unprivileged = (
        "" if os.geteuid() == 0 else f"default_login_user = {user}\ndefault_internal_user = {user}\n"
    )
    return f"""
protocols = imap
listen = 127.0.0.1
{tls[0]}
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
    {tls[1]}
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    accounts: list[tuple[str, str]]
    tls_port: int | None = None  # IMAPS with a certificate from `ca_file`, when openssl could make one
    ca_file: Path | None = None

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
    port, tls_port = free_port(), free_port()
    certificates = make_certificates(root / "run")
    config = root / "dovecot.conf"
    config.write_text(_config(root, port, _tls_config(certificates, tls_port)))
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(port, process, root / "dovecot.log")
        if certificates is None:
            yield Dovecot(root, port, made)
        else:
            _wait_for(tls_port, process, root / "dovecot.log")
            yield Dovecot(root, port, made, tls_port, certificates[0])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
