"""Tasks enqueued once a transaction commits, without failing the request when the broker is down."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
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


def retry_schedule(*, base_seconds: float, retries: int) -> timedelta:
    """The longest a task retrying with a doubling wait (`base_seconds`, twice that, … for
    `retries` waits) keeps its row owed before its last try settles it. An owed-work rule adds
    it to REQUEUE_AFTER_MINUTES, or the sweep would start a second chain of tries beside the
    task's own while it is still retrying."""
    return timedelta(seconds=sum(base_seconds * 2**n for n in range(retries)))


def requeue_owed_work(*, now: datetime) -> int:
    """Enqueue again the work that requests recorded but could not enqueue (the broker was down
    when they committed): each domain app names its own in `DomainAppConfig.owed_work`. Only
    rows owed for REQUEUE_AFTER_MINUTES are taken, so work still on its first way through the
    queue is left to it; the tasks are safe to run twice, so one taken twice does its work once.
    The number of tasks enqueued."""
    from clinic.apps import DomainAppConfig

    before = now - timedelta(minutes=settings.REQUEUE_AFTER_MINUTES)
    enqueued = 0
    for config in apps.get_app_configs():
        if not isinstance(config, DomainAppConfig):
            continue
        for task, ids in config.owed_work(before):
            ids = list(ids)
            for pk in ids:
                task.delay(pk)
            if ids:
                logger.warning("re-enqueued %s for %d row(s) still owed it", task.name, len(ids))
            enqueued += len(ids)
    return enqueued
