"""Outbound SMS, chosen by the SMS_BACKEND setting the way Django chooses EMAIL_BACKEND.

Email goes through Django's own email backends (EMAIL_URL). Every app sends through
here, so what a patient's phone may show is decided in one place.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
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


def get_sms_backend(path: str | None = None) -> SmsBackend:
    backend_class: type[SmsBackend] = import_string(path or settings.SMS_BACKEND)
    return backend_class()


def send_sms(*, to: str, body: str, idempotency_key: str) -> SmsResult:
    return get_sms_backend().send(SmsMessage(to=to, body=body, idempotency_key=idempotency_key))
