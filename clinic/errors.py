"""One error type for the domain and one JSON shape for every API error.

Every error the API returns looks like ``{"message": "...", "extra": {...}}``; field
errors sit under ``extra.fields``. Services raise ``ApplicationError`` (or a subclass);
the exception handler turns it, Django's own errors and DRF's into that shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure a person can act on. Carries an HTTP status for the API."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


def error_body(message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, "extra": extra or {}}


def _first_message(detail: Any) -> str | None:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    if isinstance(detail, str):
        return detail
    return None


# What Django raises when PostgreSQL cannot answer: InterfaceError for a connection that was
# already closed; OperationalError for a server that is down, restarting or refusing connections
# (no SQLSTATE: the connection itself failed; class 08), that ended the session (57), or a
# passing conflict or shortage (40: a deadlock or serialization failure; 53: resources). None of
# them is the request's fault or a bug to fix, and each passes: a 503 with Retry-After. psycopg
# raises OperationalError for other states too (54: a program limit, such as an index row too
# large for a value sent): those stay 500s, logged with their traceback.
PASSING_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})


def database_unavailable(exc: BaseException | None) -> bool:
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] in PASSING_SQLSTATE_CLASSES


# A PostgreSQL restart or failover takes seconds.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The service is briefly unavailable (the database did not answer). Please try again in a moment."


def _log_unavailable(exc: BaseException | None) -> None:
    # The class only: a driver's message may quote the statement.
    logger.warning("database unavailable: %s", type(exc).__name__)


def database_unavailable_now() -> bool:
    """Whether the exception Django is turning into an error page is PostgreSQL being unavailable.
    Django calls handler500 inside its `except`, for an error raised in a view or a middleware."""
    return database_unavailable(sys.exc_info()[1])


def service_unavailable(
    request: HttpRequest | None, *, html: bool = False, exc: BaseException | None = None
) -> HttpResponse:
    """The 503 for a database outage (`exc`, else the one being handled): the one JSON shape,
    or a short page for the admin's browsers. The API's views (through exception_handler) and
    handler500 (an admin page, a middleware) both answer with it."""
    _log_unavailable(exc or sys.exc_info()[1])
    response: HttpResponse
    if html:
        response = HttpResponse(
            "<!doctype html><title>Service unavailable</title>"
            f"<h1>Service unavailable</h1><p>{UNAVAILABLE_MESSAGE}</p>",
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    else:
        response = JsonResponse(
            error_body(UNAVAILABLE_MESSAGE, {"unavailable": "database"}), status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """DRF exception handler: every error leaves in the one shape."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.extra), status=exc.status_code)

    if database_unavailable(exc):
        return service_unavailable(context.get("request"), exc=exc)

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        status_code, message = _suspicious(exc)
        return Response(error_body(message), status=status_code)

    if not isinstance(exc, exceptions.APIException):
        # Unexpected: let Django log it and answer 500 (handler500 keeps the shape).
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            # DRF names errors of the whole object non_field_errors; Django's model validation __all__.
            non_field_keys = {"non_field_errors", "__all__"}
            non_field = [error for key in non_field_keys for error in detail.get(key, [])]
            fields = {key: value for key, value in detail.items() if key not in non_field_keys}
            message = (_first_message(non_field) if non_field else None) or "Some fields are invalid; see extra.fields."
            extra: dict[str, Any] = {"fields": fields} if fields else {}
            if non_field:
                extra["errors"] = non_field
        else:
            message = _first_message(detail) or "Invalid input."
            extra = {"errors": detail} if isinstance(detail, list) and len(detail) > 1 else {}
        return Response(error_body(message, extra), status=exc.status_code, headers=headers)

    message = _first_message(exc.detail) or str(exc.default_detail)
    return Response(error_body(message), status=exc.status_code, headers=headers)


def _suspicious(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, RequestDataTooBig):
        return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "The request body is too large."
    return status.HTTP_400_BAD_REQUEST, "The request was refused as malformed (too many fields, or a bad host)."


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    status_code, message = _suspicious(exception) if exception else (400, "Bad request.")
    return JsonResponse(error_body(message), status=status_code)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("You may not do that."), status=status.HTTP_403_FORBIDDEN)


@csrf_exempt  # a POST to an unknown API URL is a JSON 404, not the HTML CSRF page
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown URLs under /api/ answer JSON, not Django's HTML page."""
    return JsonResponse(
        error_body(f"No API endpoint at {request.path}. See /api/docs/ for the list."),
        status=status.HTTP_404_NOT_FOUND,
    )


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(
        error_body("Something went wrong on our side. It has been logged; please try again."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
