"""Request id: one id per request, in the response header and in every audit event."""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# An id from an upstream proxy is kept only if it is short and harmless to log.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[self.header] = request_id
        return response


def request_id_of(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


def client_ip_of(request: HttpRequest, *, num_proxies: int = 0) -> str | None:
    """The caller's address; behind `num_proxies` trusted proxies, taken from X-Forwarded-For."""
    if num_proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= num_proxies:
            return forwarded[-num_proxies]
    return request.META.get("REMOTE_ADDR") or None
