"""A lean SMTP sink for benchmarks: accepts every message and writes down its Message-ID and arrival time.

aiosmtpd, which the tests use, spends about a millisecond of CPU per message on these machines (it
validates and logs every command and builds an envelope object). On a 2-core machine that shares its
cores with the workers being measured, that alone would use most of a second of CPU per thousand
messages, so the bench measures the sink as much as the outbox. This server speaks the subset of
RFC 5321 a sending client needs (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; commands may be
pipelined) and does as little as it can per message: it finds the end of DATA with one search and the
Message-ID with one regular expression. It checks nothing else, so it is only for counting.

Each accepted message is one line `<message-id>\\t<unix time>` written with one unbuffered write before
the `250`, so every message a client may count as accepted is on file.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
END_OF_DATA = b"\r\n.\r\n"
MAX_COMMAND = 4096

REPLIES = {
    b"HELO": b"250 bench\r\n",
    b"EHLO": b"250-bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 Bye\r\n",
}


class SinkProtocol(asyncio.Protocol):
    """One SMTP session. `in_data` switches between command lines and message content."""

    def __init__(self, out_fd: int, reply_delay: float = 0.0) -> None:
        self.out_fd = out_fd
        self.reply_delay = reply_delay
        self.buffer = bytearray()
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 bench ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = bytearray()
        while self.transport is not None:
            if self.in_data:
                # The content starts right after DATA's reply, so an empty message ends at ".\r\n".
                if self.buffer.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end = self.buffer.find(END_OF_DATA)
                    if end < 0:
                        break
                    skip = len(END_OF_DATA)
                self._accept(bytes(self.buffer[:end]))
                del self.buffer[: end + skip]
                self.in_data = False
                replies += b"250 OK\r\n"
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                if len(self.buffer) > MAX_COMMAND:
                    replies += b"500 Line too long\r\n"
                    self.buffer.clear()
                break
            verb = bytes(self.buffer[:4]).upper()
            del self.buffer[: end + 2]
            reply = REPLIES.get(verb, b"500 Command not recognized\r\n")
            replies += reply
            if verb == b"DATA":
                self.in_data = True
            elif verb == b"QUIT":
                self.transport.write(bytes(replies))
                self.transport.close()
                self.transport = None
                return
        if replies and self.transport is not None:
            if self.reply_delay:
                # A relay across a network: each reply reaches the client this much later.
                asyncio.get_running_loop().call_later(self.reply_delay, self._reply, bytes(replies))
            else:
                self.transport.write(bytes(replies))

    def _reply(self, replies: bytes) -> None:
        if self.transport is not None:
            self.transport.write(replies)

    def _accept(self, content: bytes) -> None:
        found = MESSAGE_ID.search(content)
        message_id = found.group(1) if found else b"<missing>"
        os.write(self.out_fd, message_id + b"\t" + repr(time.time()).encode() + b"\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def serve(port: int, out: Path, reply_delay: float = 0.0) -> None:
    """Serve until SIGTERM; several processes may share the port (SO_REUSEPORT). `reply_delay`: seconds
    each reply is held back, as from a relay that far away (0: at once)."""
    out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SinkProtocol(out_fd, reply_delay), host="127.0.0.1", port=port, reuse_port=True
        )
    )
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    os.close(out_fd)
