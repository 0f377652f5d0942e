"""Request id: one id per request, in the response header and in every audit event."""

import ipaddress
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# An id from an upstream proxy is kept only if it is short and harmless to log.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[self.header] = request_id
        return response


def request_id_of(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip_of(request: HttpRequest, *, num_proxies: int = 0) -> str | None:
    """The caller's address; behind `num_proxies` trusted proxies, taken from X-Forwarded-For.

    Anything that is not an IP address (a forged or garbled header) falls back to the
    address of the peer that connected.
    """
    if num_proxies > 0:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= num_proxies:
            address = _ip_or_none(forwarded[-num_proxies])
            if address:
                return address
    return _ip_or_none(request.META.get("REMOTE_ADDR", ""))


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address behind the deployment's NUM_PROXIES: the one the audit log records
    and failed logins are counted by (AXES_CLIENT_IP_CALLABLE)."""
    return client_ip_of(request, num_proxies=settings.REST_FRAMEWORK["NUM_PROXIES"])
