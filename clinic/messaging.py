"""Outbound SMS, chosen by the SMS_BACKEND setting the way Django chooses EMAIL_BACKEND.

Email goes through Django's own email backends (EMAIL_URL). Every app sends through
here, so what a patient's phone may show is decided in one place.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    # The same key sent twice must reach the patient once: the backend deduplicates on it.
    idempotency_key: str


@dataclass(frozen=True)
class SmsResult:
    provider_message_id: str
    status: str


class SmsError(Exception):
    """A message did not go out. `reason` is for staff; it never holds the number or the text."""

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        # The provider's own error code (Twilio's are numbers, kept as text), or "".
        self.code = code


class SmsTransientError(SmsError):
    """Try again later: the provider was unreachable, slow, rate-limiting us or failing itself."""

    def __init__(self, reason: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason, code=code)
        # Seconds the provider asked us to wait (HTTP Retry-After), when it said.
        self.retry_after = retry_after


class SmsPermanentError(SmsError):
    """Do not try again: the same request would be refused the same way (bad number, opted out...)."""


class SmsUnsubscribedError(SmsPermanentError):
    """The recipient has stopped texts at the provider (replied STOP to the carrier or to the
    provider): record the opt-out, and text them again only after they send START."""


class SmsBackend:
    def send(self, message: SmsMessage) -> SmsResult:
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    """Development: logs that a message went out, never its text or number."""

    def send(self, message: SmsMessage) -> SmsResult:
        message_id = f"console-{uuid.uuid4().hex}"
        logger.info(
            "sms sent by console backend: id=%s key=%s chars=%d", message_id, message.idempotency_key, len(message.body)
        )
        return SmsResult(provider_message_id=message_id, status="sent")


class FileSmsBackend(SmsBackend):
    """Appends one JSON line per message to SMS_FILE_PATH (staging, demos)."""

    _lock = threading.Lock()

    def send(self, message: SmsMessage) -> SmsResult:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        message_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps(
            {**asdict(message), "id": message_id, "from": settings.SMS_FROM_NUMBER, "at": timezone.now().isoformat()}
        )
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return SmsResult(provider_message_id=message_id, status="sent")


# Messages sent through LocmemSmsBackend, like django.core.mail.outbox (tests).
outbox: list[SmsMessage] = []


class LocmemSmsBackend(SmsBackend):
    def send(self, message: SmsMessage) -> SmsResult:
        if any(sent.idempotency_key == message.idempotency_key for sent in outbox):
            return SmsResult(provider_message_id=f"locmem-{message.idempotency_key}", status="duplicate")
        outbox.append(message)
        return SmsResult(provider_message_id=f"locmem-{message.idempotency_key}", status="sent")


# Twilio's error codes for a request it will refuse again however often it is sent, in words a
# front-desk user can act on. Twilio's own `message` is never shown: it often quotes the number.
# https://www.twilio.com/docs/api/errors
TWILIO_PERMANENT_REASONS = {
    "21211": "The provider says the number is not a valid phone number",
    "21408": "The provider account is not allowed to text this number's country or region",
    "21610": "The recipient has opted out of texts from this clinic (replied STOP)",
    "21612": "The provider cannot deliver a text to this number from the clinic's sender",
    "21614": "The provider says the number is not a mobile number, so it cannot receive texts",
    "20003": "The provider refused the clinic's credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
}
# Refusals that mean the recipient has opted out at the provider (Twilio keeps its own STOP list).
TWILIO_UNSUBSCRIBED_CODES = frozenset({"21610"})


class TwilioSmsBackend(SmsBackend):
    """Sends through Twilio's Programmable Messaging REST API (2010-04-01 Messages resource).

    Raises SmsTransientError (connection failure, timeout, HTTP 408/429/5xx, an unreadable
    success answer) or SmsPermanentError (any other refusal), never an httpx error.

    The idempotency key goes out as the ``I-Twilio-Idempotency-Token`` header, but Twilio's
    REST API does not deduplicate on it: every POST creates a new message. So a retry after a
    timeout or an unreadable answer may text the patient twice; the caller's own record of what
    was sent is what prevents duplicates. The fake server in tests (tests/fakes/twilio.py)
    honours the header, to show the contract SmsMessage.idempotency_key promises.
    """

    def __init__(self) -> None:
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", settings.TWILIO_ACCOUNT_SID),
                ("TWILIO_AUTH_TOKEN", settings.TWILIO_AUTH_TOKEN),
            )
            if not value
        ]
        if not settings.SMS_FROM_NUMBER and not settings.TWILIO_MESSAGING_SERVICE_SID:
            missing.append("SMS_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)")
        if missing:
            raise ImproperlyConfigured(f"TwilioSmsBackend needs these settings: {', '.join(missing)}.")
        self.account_sid: str = settings.TWILIO_ACCOUNT_SID
        self.auth_token: str = settings.TWILIO_AUTH_TOKEN
        self.from_number: str = settings.SMS_FROM_NUMBER
        self.messaging_service_sid: str = settings.TWILIO_MESSAGING_SERVICE_SID
        self.status_callback_url: str = settings.TWILIO_STATUS_CALLBACK_URL
        self.timeout = float(settings.TWILIO_TIMEOUT_SECONDS)
        base_url: str = settings.TWILIO_API_BASE_URL
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send(self, message: SmsMessage) -> SmsResult:
        form = {"To": message.to, "Body": message.body}
        # With a Messaging Service, Twilio picks the sender from the service's pool.
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_number
        if self.status_callback_url:
            form["StatusCallback"] = self.status_callback_url
        try:
            response = httpx.post(
                self.url,
                data=form,
                auth=(self.account_sid, self.auth_token),
                headers={"I-Twilio-Idempotency-Token": message.idempotency_key, "Accept": "application/json"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise self._failed(
                SmsTransientError(f"The provider did not answer within {self.timeout:g} seconds."), message
            ) from exc
        except httpx.HTTPError as exc:
            raise self._failed(
                SmsTransientError(f"Could not reach the provider ({type(exc).__name__})."), message
            ) from exc
        if response.is_success:
            return self._result(response, message)
        raise self._failed(self._error(response), message)

    def _result(self, response: httpx.Response, message: SmsMessage) -> SmsResult:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        sid = payload.get("sid") if isinstance(payload, dict) else None
        status = payload.get("status") if isinstance(payload, dict) else None
        if not isinstance(sid, str) or not sid or not isinstance(status, str):
            # Twilio may well have accepted the message; see the class docstring on retries.
            raise self._failed(
                SmsTransientError(f"The provider's answer could not be read (HTTP {response.status_code})."), message
            )
        logger.info("sms sent by twilio: sid=%s status=%s key=%s", sid, status, message.idempotency_key)
        return SmsResult(provider_message_id=sid, status=status)

    def _error(self, response: httpx.Response) -> SmsError:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        raw_code = payload.get("code") if isinstance(payload, dict) else None
        code = str(raw_code) if isinstance(raw_code, int | str) and not isinstance(raw_code, bool) else ""
        http = response.status_code
        where = f"Twilio {code}, HTTP {http}" if code else f"HTTP {http}"
        if http == 429:
            return SmsTransientError(
                f"The provider is limiting how fast the clinic may send ({where}).",
                code=code,
                retry_after=_retry_after(response),
            )
        if http == 408 or http >= 500:
            return SmsTransientError(f"The provider had a problem of its own ({where}).", code=code)
        if 400 <= http < 500:
            known = TWILIO_PERMANENT_REASONS.get(code)
            if code in TWILIO_UNSUBSCRIBED_CODES:
                return SmsUnsubscribedError(f"{known} (Twilio {code}).", code=code)
            if known:
                return SmsPermanentError(f"{known} (Twilio {code}).", code=code)
            return SmsPermanentError(f"The provider refused the message ({where}).", code=code)
        # A redirect or other answer Twilio does not give: treat as a passing fault.
        return SmsTransientError(f"The provider gave an unexpected answer (HTTP {http}).", code=code)

    @staticmethod
    def _failed(error: SmsError, message: SmsMessage) -> SmsError:
        logger.warning(
            "sms not sent by twilio: %s code=%s key=%s reason=%s",
            "transient" if isinstance(error, SmsTransientError) else "permanent",
            error.code or "-",
            message.idempotency_key,
            error.reason,
        )
        return error


def _retry_after(response: httpx.Response) -> float | None:
    # Only the delay-seconds form: Twilio does not send the HTTP-date form.
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def twilio_signature(url: str, params: Mapping[str, str | list[str]], auth_token: str) -> str:
    """The X-Twilio-Signature Twilio puts on a webhook POSTed to `url` with form `params`.

    https://www.twilio.com/docs/usage/webhooks/webhooks-security: the full URL as Twilio
    requested it (query string included), then each POST parameter in name order, the name
    followed by its value; HMAC-SHA1 keyed with the auth token; base64. A repeated parameter
    contributes each distinct value in sorted order, name first, as Twilio's own Python and
    Node helper libraries do.
    """
    data = url
    for name in sorted(params):
        for value in sorted(set(_values(params, name))):
            data += name + value
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_signature_is_valid(url: str, params: Mapping[str, str | list[str]], signature: str, auth_token: str) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) is Twilio's for this URL and form.

    Pass request.POST as it is (a QueryDict keeps every value of a repeated parameter).
    The URL is also tried with the scheme's default port added or removed: Twilio's helper
    libraries do the same, because the URL Twilio signs and the one a proxy hands us can differ
    only in an explicit ``:443``.
    """
    if not signature or not auth_token:
        return False
    given = signature.encode()
    return any(
        hmac.compare_digest(twilio_signature(candidate, params, auth_token).encode(), given)
        for candidate in _with_and_without_default_port(url)
    )


def _values(params: Mapping[str, str | list[str]], name: str) -> list[str]:
    if isinstance(params, MultiValueDict):
        return list(params.getlist(name))
    value = params[name]
    return [value] if isinstance(value, str) else list(value)


def _with_and_without_default_port(url: str) -> list[str]:
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default_port is None:
        return [url]
    if port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default_port}"))]
    if port == default_port:
        return [url, urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))]
    return [url]


def get_sms_backend(path: str | None = None) -> SmsBackend:
    backend_class: type[SmsBackend] = import_string(path or settings.SMS_BACKEND)
    return backend_class()


def send_sms(*, to: str, body: str, idempotency_key: str) -> SmsResult:
    return get_sms_backend().send(SmsMessage(to=to, body=body, idempotency_key=idempotency_key))
