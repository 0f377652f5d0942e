"""A fake CAQH CORE real-time endpoint on a real socket, so CoreHttpBackend is tested over real HTTP.

It speaks just enough of the CORE Connectivity Rule vC2.2.0 HTTP MIME multipart envelope: it
parses the multipart/form-data POST, checks the envelope fields and the UserName/Password, records
each request, and answers with a 271 in a multipart envelope (by default the TR3 example from
../shared/x12-samples). Switches make it fail the way real clearinghouses do: an HTTP error, a CORE
ErrorCode, an answer that is not an envelope, an envelope without a 271, or no answer in time.

Its multipart answer is written by hand here, not by the library the backend reads it with, so a
fault in one is not hidden by the same fault in the other.
"""

from __future__ import annotations

import email.policy
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# The samples shared by the team sit next to the repository (/work/shared beside /work/main).
X12_SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "x12-samples"
DEFAULT_271 = X12_SAMPLES / "271_lfh_tr3_subscriber_active_copay_MH.271"
SAMPLE_270 = X12_SAMPLES / "270_lfh_tr3_subscriber_EQ30.270"

USERNAME = "clinic-core-user"
PASSWORD = "fake-core-password"
PATH = "/core/realtime"

# The envelope of a real-time 270 (CORE Connectivity Rule vC2.2.0, HTTP MIME): field → the value it
# must have, or None when any value will do.
REQUIRED_FIELDS: dict[str, str | None] = {
    "ProcessingMode": "RealTime",
    "PayloadType": "X12_270_Request_005010X279A1",
    "PayloadID": None,
    "TimeStamp": None,
    "UserName": None,
    "Password": None,
    "SenderID": None,
    "ReceiverID": None,
    "CORERuleVersion": "2.2.0",
    "Payload": None,
}
# ISO 8601 in UTC, as the rule's examples write it (2016-10-28T17:36:40Z).
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


@dataclass(frozen=True)
class FakeCoreRequest:
    """One POST the fake received, answered or not."""

    path: str
    content_type: str
    fields: Mapping[str, str]  # the form-data fields by name, decoded

    @property
    def username(self) -> str:
        return self.fields.get("UserName", "")

    @property
    def password(self) -> str:
        return self.fields.get("Password", "")


@dataclass
class _Scripted:
    remaining: int
    status: int
    body: bytes
    content_type: str


@dataclass
class _Delay:
    seconds: float = 0.0
    remaining: int = 0


@dataclass
class FakeClearinghouse:
    username: str = USERNAME
    password: str = PASSWORD
    # The 271 the next successful answers carry.
    x12_271: str = field(default_factory=lambda: DEFAULT_271.read_text())
    # Every POST, in order, including refused ones.
    requests: list[FakeCoreRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._scripted: list[_Scripted] = []
        self._hang = _Delay()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll keeps shutdown() (which waits for the next poll) from adding 0.5 s to every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-core", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def backend_options(self, **overrides: Any) -> dict[str, Any]:
        """Options for CoreHttpBackend pointing at this fake."""
        return {"url": self.url, "username": self.username, "password": self.password, "timeout": 5, **overrides}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Wakes any request still hanging, so stopping never waits out a hang.
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- switches -----------------------------------------------------------------------------

    def answer_http_error(
        self, status: int, *, count: int = 1, body: bytes = b"", content_type: str = "text/plain"
    ) -> None:
        """Answer the next `count` well-formed requests with this HTTP status and no CORE envelope."""
        self._script(count, status, body, content_type)

    def answer_core_error(self, error_code: str, *, status: int = 200, message: str = "", count: int = 1) -> None:
        """Answer the next `count` well-formed requests with a CORE envelope carrying this ErrorCode."""
        body, content_type = envelope(self._answer_fields(error_code=error_code, error_message=message))
        self._script(count, status, body, content_type)

    def answer_garbage(self, *, count: int = 1) -> None:
        """Answer 200 with a web page, as a proxy or a wrong URL would."""
        self._script(count, 200, b"<html><body>Service status: OK</body></html>", "text/html; charset=utf-8")

    def answer_without_271(self, *, payload_type: str = "X12_271_Response_005010X279A1", payload: str = "") -> None:
        """Answer the next request with ErrorCode Success but no 271 (no Payload, or another PayloadType)."""
        fields = self._answer_fields(payload_type=payload_type, payload=payload)
        if not payload:
            del fields["Payload"]
        body, content_type = envelope(fields)
        self._script(1, 200, body, content_type)

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """Wait `seconds` before answering the next `count` requests (longer than the client's timeout)."""
        with self._lock:
            self._hang = _Delay(seconds, count)

    # --- handling -----------------------------------------------------------------------------

    def _script(self, count: int, status: int, body: bytes, content_type: str) -> None:
        with self._lock:
            self._scripted.append(_Scripted(count, status, body, content_type))

    def _take_scripted(self) -> _Scripted | None:
        with self._lock:
            if not self._scripted:
                return None
            scripted = self._scripted[0]
            scripted.remaining -= 1
            if scripted.remaining <= 0:
                self._scripted.pop(0)
            return scripted

    def _take_hang(self) -> float:
        with self._lock:
            if self._hang.remaining <= 0:
                return 0.0
            self._hang.remaining -= 1
            return self._hang.seconds

    def _answer_fields(
        self,
        *,
        request: FakeCoreRequest | None = None,
        error_code: str = "Success",
        error_message: str = "",
        payload_type: str = "X12_271_Response_005010X279A1",
        payload: str = "",
    ) -> dict[str, str]:
        asked = request.fields if request else {}
        return {
            "PayloadType": payload_type,
            "ProcessingMode": "RealTime",
            "PayloadID": asked.get("PayloadID", str(uuid.uuid4())),
            "TimeStamp": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            # The answer goes the other way: the receiver of the 270 sends the 271.
            "SenderID": asked.get("ReceiverID", "CLEARINGHOUSE"),
            "ReceiverID": asked.get("SenderID", "CLINIC"),
            "CORERuleVersion": "2.2.0",
            "ErrorCode": error_code,
            "ErrorMessage": error_message,
            "Payload": payload,
        }

    def handle(self, request: FakeCoreRequest) -> tuple[int, bytes, str]:
        with self._lock:
            self.requests.append(request)
        if request.path != PATH:
            return 404, b"Not Found", "text/plain"
        if not request.content_type.startswith("multipart/form-data"):
            return 400, b"Expected multipart/form-data", "text/plain"
        if (request.username, request.password) != (self.username, self.password):
            return self._envelope_error(request, 401, "UnAuthorized", "Invalid user name or password")
        for name, expected in REQUIRED_FIELDS.items():
            value = request.fields.get(name, "")
            if not value:
                return self._envelope_error(request, 400, f"{name}Required", f"{name} is required")
            if name == "CORERuleVersion" and value != expected:
                return self._envelope_error(request, 400, "VersionMismatch", f"Version {value} is not supported")
            if expected is not None and value != expected:
                return self._envelope_error(request, 400, f"{name}Illegal", f"{name} {value} is not acceptable")
        if not _is_uuid(request.fields["PayloadID"]):
            return self._envelope_error(request, 400, "PayloadIDIllegal", "PayloadID must be a UUID")
        if not TIMESTAMP.fullmatch(request.fields["TimeStamp"]):
            return self._envelope_error(request, 400, "TimeStampIllegal", "TimeStamp must be ISO 8601 UTC")
        if not request.fields["Payload"].startswith("ISA"):
            return self._envelope_error(request, 400, "PayloadIllegal", "Payload is not X12")
        scripted = self._take_scripted()
        if scripted is not None:
            return scripted.status, scripted.body, scripted.content_type
        body, content_type = envelope(self._answer_fields(request=request, payload=self.x12_271))
        return 200, body, content_type

    def _envelope_error(self, request: FakeCoreRequest, status: int, code: str, message: str) -> tuple[int, bytes, str]:
        fields = self._answer_fields(request=request, error_code=code, error_message=message)
        del fields["Payload"]
        body, content_type = envelope(fields)
        return status, body, content_type


def envelope(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body (RFC 7578) and its Content-Type, written out by hand."""
    boundary = f"core-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    if not content_type.startswith("multipart/"):
        return {}
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(content, bytes):
            fields[name] = content.decode()
    return fields


def _handler_for(fake: FakeClearinghouse) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            content_type = self.headers.get("Content-Type", "")
            body = self.rfile.read(length)
            request = FakeCoreRequest(path=self.path, content_type=content_type, fields=_parse_form(content_type, body))
            hang = fake._take_hang()
            if hang and fake._stopping.wait(hang):
                self.close_connection = True
                return
            status, answer, answer_type = fake.handle(request)
            try:
                self.send_response(status)
                self.send_header("Content-Type", answer_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test): nothing left to tell it.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: the default handler writes every request to stderr.
            pass

    return Handler


@pytest.fixture(name="clearinghouse_fake")
def clearinghouse_fake_fixture() -> Iterator[FakeClearinghouse]:
    """A running fake CORE clearinghouse. Not in tests/conftest.py: import this function into the
    test module that uses it (`from tests.fakes.clearinghouse import clearinghouse_fake_fixture`)."""
    fake = FakeClearinghouse()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
