"""A fake Twilio Messages API on a real socket, so TwilioSmsBackend is tested over real HTTP.

It speaks just enough of POST /2010-04-01/Accounts/{sid}/Messages.json: basic auth, the form
fields, Twilio's error JSON. Unlike Twilio, it deduplicates on I-Twilio-Idempotency-Token, to
show the contract the rest of the code relies on (see TwilioSmsBackend's docstring).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_django.fixtures import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"

# E.164: a plus, then up to 15 digits, the first not 0.
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True)
class FakeTwilioRequest:
    """One POST the fake received, answered or not."""

    path: str
    username: str
    password: str
    to: str
    from_: str
    messaging_service_sid: str
    body: str
    status_callback: str
    idempotency_token: str


@dataclass(frozen=True)
class FakeTwilioMessage:
    """A message the fake accepted: what a patient would have received."""

    sid: str
    request: FakeTwilioRequest


@dataclass
class _Delay:
    """Wait `seconds` on each of the next `remaining` requests it applies to."""

    seconds: float = 0.0
    remaining: int = 0


@dataclass
class _Scripted:
    remaining: int
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeTwilio:
    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        # Every POST, in order, including refused and duplicate ones.
        self.requests: list[FakeTwilioRequest] = []
        # Accepted messages, one per idempotency token.
        self.messages: list[FakeTwilioMessage] = []
        # Requests accepted and then held before the answer (hold_after_accept_next), in order.
        self.held: list[FakeTwilioRequest] = []
        self._sids_by_token: dict[str, str] = {}
        self._scripted: list[_Scripted] = []
        self._hang = _Delay()
        self._hold = _Delay()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll keeps shutdown() (which waits for the next poll) from adding 0.5 s to every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-twilio", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Wakes any request still hanging, so stopping never waits out a hang.
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(self, count: int = 1, *, status: int, code: int | None = None, message: str = "") -> None:
        """Answer the next `count` requests with Twilio's error JSON (or an empty body when code is None)."""
        if code is None:
            body = b""
        else:
            body = json.dumps(
                {
                    "code": code,
                    "message": message or f"Fake failure {code}",
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                }
            ).encode()
        self.answer_next(count, status=status, body=body)

    def answer_next(self, count: int = 1, *, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer the next `count` requests with exactly this (e.g. a malformed 201)."""
        with self._lock:
            self._scripted.append(_Scripted(remaining=count, status=status, body=body, headers=dict(headers or {})))

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """Wait `seconds` before handling the next `count` requests (longer than the client's timeout)."""
        with self._lock:
            self._hang = _Delay(seconds, count)

    def hold_after_accept_next(self, seconds: float, count: int = 1) -> None:
        """Accept and record the next `count` messages, then wait `seconds` before answering:
        the provider has the message and the client does not know yet. A client killed
        meanwhile is inside the crash window (README: a send in flight at the crash); each
        held request is in `held` once its message is recorded."""
        with self._lock:
            self._hold = _Delay(seconds, count)

    def _take_hang(self) -> float:
        with self._lock:
            if self._hang.remaining <= 0:
                return 0.0
            self._hang.remaining -= 1
            return self._hang.seconds

    def _take_hold(self, request: FakeTwilioRequest) -> float:
        with self._lock:
            if self._hold.remaining <= 0:
                return 0.0
            self._hold.remaining -= 1
            self.held.append(request)
            return self._hold.seconds

    def _take_scripted(self) -> _Scripted | None:
        with self._lock:
            if not self._scripted:
                return None
            scripted = self._scripted[0]
            scripted.remaining -= 1
            if scripted.remaining <= 0:
                self._scripted.pop(0)
            return scripted

    def handle(self, request: FakeTwilioRequest) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if (request.username, request.password) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.path != expected_path:
            return _error(404, 20404, "The requested resource was not found")
        scripted = self._take_scripted()
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        if not E164.fullmatch(request.to):
            # Twilio quotes the number back; the backend must not pass it on.
            return _error(400, 21211, f"The 'To' number {request.to} is not a valid phone number.")
        if not request.from_ and not request.messaging_service_sid:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not request.body:
            return _error(400, 21602, "Message body is required.")
        with self._lock:
            sid = self._sids_by_token.get(request.idempotency_token) if request.idempotency_token else None
            if sid is None:
                sid = f"SM{uuid.uuid4().hex}"
                self.messages.append(FakeTwilioMessage(sid=sid, request=request))
                if request.idempotency_token:
                    self._sids_by_token[request.idempotency_token] = sid
        payload = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": request.to,
            "from": request.from_ or None,
            "messaging_service_sid": request.messaging_service_sid or None,
            "body": request.body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "uri": f"{expected_path[:-5]}/{sid}.json",
        }
        return 201, json.dumps(payload).encode(), {}


def _error(status: int, code: int, message: str) -> tuple[int, bytes, dict[str, str]]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, json.dumps(body).encode(), {}


def _basic_auth(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return username, password


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            username, password = _basic_auth(self.headers.get("Authorization", ""))

            def first(name: str) -> str:
                return form.get(name, [""])[0]

            request = FakeTwilioRequest(
                path=self.path,
                username=username,
                password=password,
                to=first("To"),
                from_=first("From"),
                messaging_service_sid=first("MessagingServiceSid"),
                body=first("Body"),
                status_callback=first("StatusCallback"),
                idempotency_token=self.headers.get("I-Twilio-Idempotency-Token", ""),
            )
            hang = fake._take_hang()
            if hang and fake._stopping.wait(hang):
                self.close_connection = True
                return
            status, body, headers = fake.handle(request)
            hold = fake._take_hold(request) if status == 201 else 0.0
            if hold and fake._stopping.wait(hold):
                self.close_connection = True
                return
            self._answer(status, body, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test): nothing left to tell it.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: the default handler writes every request to stderr.
            pass

    return Handler


@pytest.fixture
def twilio_fake(settings: Settings) -> Iterator[FakeTwilio]:
    """A running fake Twilio, with the settings pointing TwilioSmsBackend at it."""
    fake = FakeTwilio()
    fake.start()
    try:
        settings.SMS_BACKEND = "clinic.messaging.TwilioSmsBackend"
        settings.SMS_FROM_NUMBER = FROM_NUMBER
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = fake.auth_token
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_BASE_URL = fake.base_url
        settings.TWILIO_STATUS_CALLBACK_URL = ""
        settings.TWILIO_TIMEOUT_SECONDS = 5
        yield fake
    finally:
        fake.stop()
