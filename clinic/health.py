"""Liveness and readiness probes for load balancers and orchestrators (no auth, no patient data)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from clinic.errors import error_body

logger = logging.getLogger(__name__)

# A probe must answer before the orchestrator's own timeout, even when a dependency hangs.
PROBE_TIMEOUT_SECONDS = 2


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        logger.warning("readyz: database unreachable (%s)", type(exc).__name__)
        # Drop the broken connection so the next request opens a fresh one.
        connection.close_if_unusable_or_obsolete()
        return "unreachable"
    return None


def _broker_ok() -> str | None:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning("readyz: broker unreachable (%s)", type(exc).__name__)
        return "unreachable"
    finally:
        client.close()
    return None


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    problems = {"database": _database_ok(), "broker": _broker_ok()}
    checks = {name: problem or "ok" for name, problem in problems.items()}
    down = [name for name, problem in problems.items() if problem]
    if down:
        return JsonResponse(
            error_body(
                f"Not ready: {' and '.join(down)} {'is' if len(down) == 1 else 'are'} unreachable.", {"checks": checks}
            ),
            status=503,
        )
    return JsonResponse({"status": "ready", "checks": checks})
