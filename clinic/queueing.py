"""Tasks enqueued once a transaction commits, without failing the request when the broker is down."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Any, *ids: int) -> None:
    """`task.delay(*ids)` once the current transaction commits (at once outside one).

    By then the record is written, so a broker that is down (Redis stopped, unreachable) must not
    turn the request into a 500 that its client retries, writing it twice. The failure is logged,
    with the task's name and the ids only, and the row keeps the state that says the work is owed
    (a hold not alerted, a letter queued, a check awaiting its answer)."""

    def enqueue() -> None:
        try:
            task.delay(*ids)
        except (BrokerUnavailable, OSError) as exc:
            logger.error("could not enqueue %s%s: the broker is unavailable (%s)", task.name, ids, type(exc).__name__)

    transaction.on_commit(enqueue)
