"""Twilio's webhooks: texts patients send to the clinic's number, and delivery reports of the
reminders we sent (DESIGN.md flow 4).

Plain Django views outside the DRF API: Twilio has no token to present; it signs every request
instead (X-Twilio-Signature: HMAC-SHA1, keyed with the account's auth token, over the URL it
called and the form it posted). An unsigned or wrongly signed request is refused before
anything is read or stored. Errors answer in the API's one JSON shape.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from clinic.errors import error_body
from clinic.messaging import twilio_signature_is_valid
from scheduling.services.replies import reply_handle, status_callback_handle

logger = logging.getLogger(__name__)

# The longest values the rows take (InboundMessage, Reminder).
_MAX_LENGTHS = {"MessageSid": 64, "From": 32, "MessageStatus": 32, "ErrorCode": 16}


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio called, as it signed it. Behind a proxy or a tunnel the URL Django sees
    can differ (scheme, host), so TWILIO_WEBHOOK_BASE_URL ("https://clinic.example.org", no
    path) names the public origin; empty, the request's own absolute URL is used."""
    base: str = settings.TWILIO_WEBHOOK_BASE_URL
    if base:
        return base.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def _refusal(request: HttpRequest, required: tuple[str, ...]) -> JsonResponse | None:
    """The error answer for a request that is not a POST, not signed by Twilio, or lacks a
    field; None when it may be handled."""
    if request.method != "POST":
        response = JsonResponse(error_body(f"Method {request.method} is not allowed; use POST."), status=405)
        response["Allow"] = "POST"
        return response
    signature = request.headers.get("X-Twilio-Signature", "")
    if not twilio_signature_is_valid(signed_url(request), request.POST, signature, settings.TWILIO_AUTH_TOKEN):
        logger.warning("twilio webhook refused: bad or missing signature path=%s", request.path)
        return JsonResponse(error_body("The request does not carry a valid Twilio signature."), status=403)
    fields: dict[str, list[str]] = {}
    for name in required:
        if name not in request.POST or (name != "Body" and not request.POST[name].strip()):
            fields[name] = ["Required."]
    for name, limit in _MAX_LENGTHS.items():
        if len(request.POST.get(name, "")) > limit:
            fields[name] = [f"At most {limit} characters."]
    if fields:
        return JsonResponse(
            error_body(f"Missing or invalid field(s): {', '.join(sorted(fields))}.", {"fields": fields}), status=400
        )
    return None


def twiml(reply: str | None) -> str:
    """TwiML answering with `reply`, or with nothing."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    if reply is None:
        return head + "<Response/>"
    return f"{head}<Response><Message>{escape(reply)}</Message></Response>"


@csrf_exempt  # Twilio cannot hold a CSRF token; the signature is the check
def twilio_inbound_sms(request: HttpRequest) -> HttpResponse:
    """POST /webhooks/twilio/sms/: a text to the clinic's number. Answers TwiML."""
    refusal = _refusal(request, ("MessageSid", "From", "Body"))
    if refusal is not None:
        return refusal
    reply = reply_handle(
        from_number=request.POST["From"].strip(),
        body=request.POST["Body"],
        provider_message_id=request.POST["MessageSid"].strip(),
    )
    return HttpResponse(twiml(reply), content_type="text/xml; charset=utf-8")


@csrf_exempt  # Twilio cannot hold a CSRF token; the signature is the check
def twilio_status_callback(request: HttpRequest) -> HttpResponse:
    """POST /webhooks/twilio/status/: a delivery report (queued, sent, delivered, failed...)."""
    refusal = _refusal(request, ("MessageSid", "MessageStatus"))
    if refusal is not None:
        return refusal
    status_callback_handle(
        provider_message_id=request.POST["MessageSid"].strip(),
        message_status=request.POST["MessageStatus"],
        error_code=request.POST.get("ErrorCode", ""),
    )
    # A report about a message we do not know is answered the same: Twilio has nothing to retry.
    return HttpResponse(status=204)
