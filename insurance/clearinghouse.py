"""How a 270 reaches a payer and its 271 comes back: one backend per way the clinic works.

The backend is chosen by a dotted path, the way Django chooses EMAIL_BACKEND (clinic.messaging
does the same for SMS): the insurance service reads its setting and calls
``get_backend(path, **options)``. No settings are read here.

- ManualBackend ("manual"): nothing is sent; staff call the payer and record what they were told.
- FileBackend ("file"): nothing is sent; staff send the 270 through a portal and upload the 271.
- CoreHttpBackend ("http"): real time over HTTPS, the CAQH CORE Connectivity Rule vC2.2.0
  (Phase II) HTTP MIME multipart envelope.

Patient data: the 270 and the 271 name the patient. They are never logged; logs carry the
PayloadID and the outcome only, and error messages never quote either file.
"""

from __future__ import annotations

import email.policy
import logging
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from typing import Literal
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

SubmissionStatus = Literal["answered", "awaiting_staff"]


@dataclass(frozen=True)
class Submission:
    """What came of sending one 270."""

    status: SubmissionStatus  # "answered": x12_271 holds the payer's 271; "awaiting_staff": staff will record it
    payload_id: str
    # Both name the patient: kept out of repr so a Submission in a log or a traceback shows none.
    x12_271: str = field(default="", repr=False)
    # The whole answer as received (the CORE envelope around the 271), for debugging a payer's
    # answer: keep it with the check in the database, never in logs.
    raw_response: str = field(default="", repr=False)


class ClearinghouseError(Exception):
    """The 270 got no usable answer.

    `transient`: trying again later may work (the clearinghouse was unreachable, slow, busy or
    failing itself); otherwise the same request would fail the same way until someone changes
    something (credentials, URL, our IDs). `message` says what to do, for staff; it never quotes
    the 270 or the 271. `code` is the CORE ErrorCode, or ours ("timeout", "connection", "http_502",
    "not_core", "no_271"). `raw_response` keeps what the clearinghouse sent, for the database only.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        code: str = "",
        status_code: int | None = None,
        detail: str = "",
        raw_response: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code
        self.status_code = status_code
        # The clearinghouse's own ErrorMessage, kept apart from `message` because its wording is
        # not ours to vouch for.
        self.detail = detail
        self.raw_response = raw_response


class ClearinghouseBackend:
    """Sends a 270 (or does not) and says what came of it."""

    mode: str = ""

    def submit(self, *, x12_270: str, payload_id: str, sender_id: str, receiver_id: str) -> Submission:
        raise NotImplementedError


class ManualBackend(ClearinghouseBackend):
    """Nothing is sent: staff call the payer and record what they were told.

    It takes no options; options meant for another mode are accepted and ignored, so switching
    modes is a change of one setting.
    """

    mode = "manual"

    def __init__(self, **options: object) -> None:
        pass

    def submit(self, *, x12_270: str, payload_id: str, sender_id: str, receiver_id: str) -> Submission:
        logger.info("eligibility 270 left for staff: mode=%s payload_id=%s", self.mode, payload_id)
        return Submission(status="awaiting_staff", payload_id=payload_id)


class FileBackend(ManualBackend):
    """Nothing is sent: staff take the 270 to the payer's portal and upload the 271 it gives."""

    mode = "file"


# CAQH CORE Connectivity Rule vC2.2.0, HTTP MIME multipart envelope (section 4 of the rule;
# field names and values as in its real-time examples).
CORE_RULE_VERSION = "2.2.0"
PAYLOAD_TYPE_270 = "X12_270_Request_005010X279A1"
PAYLOAD_TYPE_271 = "X12_271_Response_005010X279A1"
PROCESSING_MODE = "RealTime"
CORE_SUCCESS = "Success"
# The rule requires real-time answers within 20 seconds of receipt (CAQH CORE 155 response time,
# referred to by the connectivity rule); the rest is room for TLS and the network.
DEFAULT_TIMEOUT_SECONDS = 30.0
# The rule's envelope error codes (<Field>Required, <Field>Illegal, VersionMismatch, UnAuthorized)
# all mean the request must change, so they are permanent. A receiver that is busy or failing
# sends a code of its own; these are the names taken as "try again later". Any other code is
# judged by the HTTP status that came with it (5xx: transient).
TRANSIENT_CORE_ERRORS = frozenset({"Busy", "ServerBusy", "ServerError", "ServiceUnavailable", "Timeout"})
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class CoreHttpBackend(ClearinghouseBackend):
    """Real-time 270/271 through a clearinghouse (or payer) speaking CAQH CORE HTTP MIME multipart.

    POSTs multipart/form-data with the CORE envelope fields; the user name and password travel as
    the envelope's UserName and Password fields, the rule's username/password method for HTTP MIME
    (its other method, X.509 client certificates, is not supported here). The answer is
    multipart too: PayloadType X12_271_Response_005010X279A1, ErrorCode Success, the 271 as Payload.

    Raises ClearinghouseError, never an httpx error. A 270 only asks, so sending it again after a
    transient error does no harm. A PayloadID names one message in both sides' audit logs (CORE
    connectivity rule 4.3.4), so a retry is best sent with a new one (new_payload_id()): a
    receiver may refuse one it has seen.
    """

    mode = "http"

    def __init__(
        self,
        *,
        url: str,
        username: str,
        password: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: bool | str = True,
    ) -> None:
        missing = [name for name, value in (("url", url), ("username", username), ("password", password)) if not value]
        if missing:
            raise ImproperlyConfigured(f"CoreHttpBackend needs these options: {', '.join(missing)}.")
        parts = urlsplit(url)
        # The 270 names the patient and the password travels in the body: TLS or nothing, except
        # to this machine (tests, a local relay). The CORE rule itself requires HTTPS.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            raise ImproperlyConfigured(f"CoreHttpBackend needs an https:// URL, not {parts.scheme}://{parts.hostname}.")
        if timeout <= 0:
            raise ImproperlyConfigured(f"CoreHttpBackend's timeout must be more than 0 seconds, not {timeout}.")
        self.url = url
        self.username = username
        self.password = password
        self.timeout = float(timeout)
        # A string is the path of a CA bundle, for a clearinghouse whose certificate a private CA signed.
        self.verify: bool | ssl.SSLContext
        if isinstance(verify, str):
            try:
                self.verify = ssl.create_default_context(cafile=verify)
            except (OSError, ssl.SSLError) as error:
                raise ImproperlyConfigured(f"CoreHttpBackend cannot read the CA bundle {verify!r}: {error}") from error
        else:
            self.verify = verify

    def submit(self, *, x12_270: str, payload_id: str, sender_id: str, receiver_id: str) -> Submission:
        _check_payload_id(payload_id)
        fields = {
            "ProcessingMode": PROCESSING_MODE,
            "PayloadType": PAYLOAD_TYPE_270,
            "PayloadID": payload_id,
            "TimeStamp": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "UserName": self.username,
            "Password": self.password,
            "SenderID": sender_id,
            "ReceiverID": receiver_id,
            "CORERuleVersion": CORE_RULE_VERSION,
            "Payload": x12_270,
        }
        try:
            submission = self._post(fields, payload_id)
        except ClearinghouseError as error:
            logger.warning(
                "eligibility 270 failed: payload_id=%s code=%s transient=%s http_status=%s",
                payload_id,
                error.code,
                error.transient,
                error.status_code,
            )
            raise
        logger.info("eligibility 270 answered: payload_id=%s", payload_id)
        return submission

    def _post(self, fields: dict[str, str], payload_id: str) -> Submission:
        host = urlsplit(self.url).hostname
        # Each field as a form-data part with no filename: what the rule's examples show.
        files = [(name, (None, value.encode())) for name, value in fields.items()]
        try:
            with httpx.Client(timeout=self.timeout, verify=self.verify) as client:
                response = client.post(self.url, files=files)
        except httpx.TimeoutException as error:
            raise ClearinghouseError(
                f"The clearinghouse at {host} did not answer within {self.timeout:g} seconds; try again later.",
                transient=True,
                code="timeout",
            ) from error
        except httpx.HTTPError as error:
            raise ClearinghouseError(
                f"Could not reach the clearinghouse at {host} ({type(error).__name__}); try again later.",
                transient=True,
                code="connection",
            ) from error
        raw = response.text
        envelope = _parse_envelope(response)
        error_code = envelope.get("ErrorCode", "") if envelope is not None else ""
        status = response.status_code

        if error_code and error_code != CORE_SUCCESS:
            raise _core_error(error_code, envelope or {}, status, raw)
        if status >= 400:
            raise _http_error(status, host, raw)
        if envelope is None:
            content_type = response.headers.get("content-type", "none").split(";")[0]
            raise ClearinghouseError(
                f"The clearinghouse at {host} answered with {content_type}, not a CORE multipart envelope: "
                "check the clearinghouse URL (it may point at a web page or a proxy).",
                transient=False,
                code="not_core",
                status_code=status,
                raw_response=raw,
            )
        payload_type = envelope.get("PayloadType", "")
        payload = envelope.get("Payload", "")
        if payload_type != PAYLOAD_TYPE_271 or not payload.lstrip("\ufeff \r\n\t").startswith("ISA"):
            what = f"PayloadType {payload_type}" if payload_type else "no PayloadType"
            raise ClearinghouseError(
                f"The clearinghouse answered without a 271 ({what}"
                f"{'' if payload.strip() else ', no Payload'}): the payer may have rejected the 270 "
                "itself (a 999 acknowledgment names the fault); it will answer the same until that is fixed.",
                transient=False,
                code="no_271",
                status_code=status,
                detail=envelope.get("ErrorMessage", ""),
                raw_response=raw,
            )
        return Submission(status="answered", payload_id=payload_id, x12_271=payload, raw_response=raw)


def _parse_envelope(response: httpx.Response) -> dict[str, str] | None:
    """The form-data fields of a CORE multipart answer, or None when it is not one."""
    content_type = response.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + response.content)
    if not message.is_multipart() or message.defects:
        return None
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        if isinstance(content, bytes):
            fields[name] = content.decode(part.get_content_charset() or "utf-8", errors="replace")
    return fields or None


def _core_error(error_code: str, envelope: dict[str, str], status: int, raw: str) -> ClearinghouseError:
    detail = envelope.get("ErrorMessage", "")
    if error_code == "UnAuthorized":
        message = (
            "The clearinghouse refused our user name or password, or this user may not send 270s: "
            "check the clearinghouse credentials."
        )
        transient = False
    elif error_code == "VersionMismatch":
        message = (
            f"The clearinghouse does not accept CORE rule version {CORE_RULE_VERSION}: ask it which version it takes."
        )
        transient = False
    elif error_code.endswith(("Required", "Illegal")):
        field_name = error_code.removesuffix("Required").removesuffix("Illegal")
        problem = "missing" if error_code.endswith("Required") else "not acceptable"
        hint = _FIELD_HINTS.get(field_name, "the request is built by this software: report it")
        message = f"The clearinghouse says the {field_name} we sent is {problem}: {hint}."
        transient = False
    elif error_code in TRANSIENT_CORE_ERRORS or status >= 500:
        message = f"The clearinghouse could not answer now ({error_code}); try again later."
        transient = True
    else:
        message = f"The clearinghouse refused the 270 ({error_code}); it will refuse it again until the cause is fixed."
        transient = False
    return ClearinghouseError(
        f"{message} (CORE ErrorCode {error_code})",
        transient=transient,
        code=error_code,
        status_code=status,
        detail=detail,
        raw_response=raw,
    )


# What staff can do when the clearinghouse names one of our envelope fields as missing or wrong.
_FIELD_HINTS = {
    "SenderID": "check the clinic's sender ID for this clearinghouse",
    "ReceiverID": "check the payer's receiver ID",
    "UserName": "check the clearinghouse user name",
    "Password": "check the clearinghouse password",
    "Payload": "the payer's side could not read the 270; check the patient's and the payer's details",
}


def _http_error(status: int, host: str | None, raw: str) -> ClearinghouseError:
    # 408 and 429 ask the client to come back later; 5xx are the clearinghouse's own trouble.
    transient = status >= 500 or status in (408, 429)
    if transient:
        message = f"The clearinghouse at {host} is failing or overloaded; try again later."
    elif status in (401, 403):
        message = "The clearinghouse refused our credentials: check the clearinghouse user name and password."
    elif status == 404:
        message = f"The clearinghouse at {host} has no such address: check the clearinghouse URL."
    else:
        message = f"The clearinghouse at {host} refused the request; it will refuse it again until the cause is fixed."
    return ClearinghouseError(
        f"{message} (HTTP {status})", transient=transient, code=f"http_{status}", status_code=status, raw_response=raw
    )


def _check_payload_id(payload_id: str) -> None:
    try:
        uuid.UUID(payload_id)
    except ValueError:
        raise ValueError(f"A CORE PayloadID must be a UUID, not {payload_id!r}: use new_payload_id().") from None


def new_payload_id() -> str:
    """A PayloadID for one 270. The CORE rule asks for an ISO UUID made from the time and the
    machine's hardware address (CAQH CORE FAQ on PayloadID), which is what version 1 is."""
    return str(uuid.uuid1())


def get_backend(path: str, **options: object) -> ClearinghouseBackend:
    """The backend class at `path` (e.g. "insurance.clearinghouse.CoreHttpBackend"), made with `options`."""
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"No clearinghouse backend at {path!r}: {error}") from error
    if not (isinstance(backend_class, type) and issubclass(backend_class, ClearinghouseBackend)):
        raise ImproperlyConfigured(f"{path!r} is not a ClearinghouseBackend.")
    try:
        return backend_class(**options)
    except TypeError as error:
        raise ImproperlyConfigured(f"{backend_class.__name__} cannot take these options: {error}") from error
