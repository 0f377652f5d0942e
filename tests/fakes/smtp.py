"""A fake mail server on a real socket, so code that sends email is tested through Django's
SMTP backend over real SMTP.

It speaks just enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA (with its dot
transparency), RSET, NOOP, QUIT. Addresses in `refused` get 550 at RCPT, as a server does for
a mailbox it does not know; after `drop_after` messages it closes the connection, as a
server that goes away does; `delivered` lists (recipient, message) for every message it took.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pytest_django.fixtures import Settings


@dataclass
class FakeSmtp:
    host: str
    port: int
    refused: set[str] = field(default_factory=set)
    drop_after: int | None = None
    delivered: list[tuple[str, str]] = field(default_factory=list)

    def recipients(self) -> list[str]:
        return [recipient for recipient, _ in self.delivered]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        fake = self.server.fake
        self.reply("220 localhost fake SMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb in ("MAIL", "RSET"):
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if address.lower() in {refused.lower() for refused in fake.refused}:
                    self.reply(f"550 5.1.1 <{address}>: mailbox unavailable")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA" and not recipients:
                self.reply("503 5.5.1 No valid recipients")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := self.rfile.readline()) != b".\r\n":
                    if not data:
                        return  # the client went away mid-message: nothing delivered
                    body.append(data.decode().removeprefix("."))  # a leading dot was doubled
                fake.delivered.extend((recipient, "".join(body)) for recipient in recipients)
                self.reply("250 OK")
                if fake.drop_after is not None and len(fake.delivered) >= fake.drop_after:
                    return  # gone without a word
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    fake: FakeSmtp


@pytest.fixture
def fake_smtp(settings: Settings) -> Iterator[FakeSmtp]:
    """A mail server on a free loopback port, and Django's SMTP backend pointed at it."""
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.fake = FakeSmtp(host=str(host), port=int(port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.fake.host, server.fake.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
