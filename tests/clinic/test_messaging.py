import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import time

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from clinic import messaging


@pytest.fixture(autouse=True)
def _empty_outbox():
    messaging.outbox.clear()
    yield
    messaging.outbox.clear()


def test_the_backend_is_chosen_by_setting(settings):
    settings.SMS_BACKEND = "clinic.messaging.FileSmsBackend"
    assert isinstance(messaging.get_sms_backend(), messaging.FileSmsBackend)


def test_the_file_backend_appends_one_json_line_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "clinic.messaging.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "out" / "sms.jsonl")
    settings.SMS_FROM_NUMBER = "+15005550006"
    first = messaging.send_sms(to="+15551230001", body="See you tomorrow at 9:00.", idempotency_key="k1")
    messaging.send_sms(to="+15551230002", body="Reply C to confirm.", idempotency_key="k2")
    lines = [json.loads(line) for line in (tmp_path / "out" / "sms.jsonl").read_text().splitlines()]
    assert [(m["to"], m["idempotency_key"], m["from"]) for m in lines] == [
        ("+15551230001", "k1", "+15005550006"),
        ("+15551230002", "k2", "+15005550006"),
    ]
    assert lines[0]["id"] == first.provider_message_id


def test_the_locmem_backend_sends_a_key_once(settings):
    settings.SMS_BACKEND = "clinic.messaging.LocmemSmsBackend"
    assert messaging.send_sms(to="+15551230001", body="a", idempotency_key="same").status == "sent"
    assert messaging.send_sms(to="+15551230001", body="a", idempotency_key="same").status == "duplicate"
    assert len(messaging.outbox) == 1


def test_the_console_backend_logs_neither_number_nor_text(settings, caplog):
    settings.SMS_BACKEND = "clinic.messaging.ConsoleSmsBackend"
    with caplog.at_level(logging.INFO, logger="clinic.messaging"):
        messaging.send_sms(to="+15551230001", body="Your visit is at 9:00", idempotency_key="k9")
    assert "k9" in caplog.text
    assert "+15551230001" not in caplog.text
    assert "visit" not in caplog.text


# --- Twilio -----------------------------------------------------------------------------
# Through the fake in tests/fakes/twilio.py, over real HTTP on 127.0.0.1.

NUMBER = "+15551230001"
BODY = "See you tomorrow at 9:00. Reply C to confirm."


def test_it_posts_the_message_to_twilio_over_http(twilio_fake, settings):
    settings.TWILIO_STATUS_CALLBACK_URL = "https://clinic.example/api/v1/sms-status/"
    result = messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="reminder-1")

    [request] = twilio_fake.requests
    assert request.path == f"/2010-04-01/Accounts/{twilio_fake.account_sid}/Messages.json"
    assert (request.username, request.password) == (twilio_fake.account_sid, twilio_fake.auth_token)
    assert (request.to, request.from_, request.messaging_service_sid, request.body) == (
        NUMBER,
        settings.SMS_FROM_NUMBER,
        "",
        BODY,
    )
    assert request.status_callback == "https://clinic.example/api/v1/sms-status/"
    assert request.idempotency_token == "reminder-1"
    [message] = twilio_fake.messages
    assert result == messaging.SmsResult(provider_message_id=message.sid, status="queued")
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_message_id)


def test_it_sends_from_the_messaging_service_when_one_is_set(twilio_fake, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "a" * 32
    settings.SMS_FROM_NUMBER = ""
    messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k1")
    [request] = twilio_fake.requests
    assert (request.from_, request.messaging_service_sid) == ("", "MG" + "a" * 32)
    assert request.status_callback == ""


def test_it_logs_the_sid_and_key_but_neither_number_nor_text(twilio_fake, caplog):
    with caplog.at_level(logging.INFO, logger="clinic.messaging"):
        result = messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k-log")
    assert result.provider_message_id in caplog.text
    assert "k-log" in caplog.text
    assert NUMBER not in caplog.text
    assert "9:00" not in caplog.text


def test_the_same_key_twice_reaches_the_patient_once(twilio_fake):
    first = messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="same")
    second = messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="same")
    assert first.provider_message_id == second.provider_message_id
    assert len(twilio_fake.requests) == 2
    assert len(twilio_fake.messages) == 1


def test_a_retry_after_a_transient_failure_sends_once(twilio_fake):
    twilio_fake.fail_next(status=503, code=20500)
    with pytest.raises(messaging.SmsTransientError):
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="retry-me")
    messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="retry-me")
    assert len(twilio_fake.requests) == 2
    assert len(twilio_fake.messages) == 1


def test_an_invalid_number_is_a_permanent_error_that_names_neither_number_nor_text(twilio_fake, caplog):
    # The fake, like Twilio, quotes the number in its own message: it must not come through.
    with caplog.at_level(logging.INFO, logger="clinic.messaging"), pytest.raises(messaging.SmsPermanentError) as info:
        messaging.send_sms(to="555-0100", body=BODY, idempotency_key="k-bad")
    error = info.value
    assert error.code == "21211"
    assert error.reason == "The provider says the number is not a valid phone number (Twilio 21211)."
    shown = f"{error} {error.reason} {error.args!r} {caplog.text}"
    assert "555-0100" not in shown
    assert "9:00" not in shown
    assert "k-bad" in caplog.text
    assert twilio_fake.messages == []


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21614, "not a mobile number"),
        (21610, "opted out"),
        (21408, "country or region"),
        (21612, "cannot deliver"),
    ],
)
def test_twilio_refusals_that_will_not_change_are_permanent(twilio_fake, code, words):
    twilio_fake.fail_next(status=400, code=code, message=f"Refused for {NUMBER}")
    with pytest.raises(messaging.SmsPermanentError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.code == str(code)
    assert words in info.value.reason
    assert f"(Twilio {code})" in info.value.reason
    assert NUMBER not in info.value.reason


def test_any_other_client_error_is_permanent_with_its_code(twilio_fake):
    twilio_fake.fail_next(status=400, code=21617, message="The concatenated message body exceeds the 1600 limit")
    with pytest.raises(messaging.SmsPermanentError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.code == "21617"
    assert info.value.reason == "The provider refused the message (Twilio 21617, HTTP 400)."


def test_wrong_credentials_are_permanent(twilio_fake, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with pytest.raises(messaging.SmsPermanentError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.code == "20003"
    assert "TWILIO_AUTH_TOKEN" in info.value.reason
    assert "not-the-token" not in info.value.reason


@pytest.mark.parametrize(
    ("status", "code", "expected_code"),
    [(503, None, ""), (500, 20500, "20500"), (502, None, ""), (429, 20429, "20429"), (408, None, "")],
)
def test_server_errors_and_rate_limits_are_transient(twilio_fake, status, code, expected_code):
    twilio_fake.fail_next(status=status, code=code)
    with pytest.raises(messaging.SmsTransientError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.code == expected_code
    assert f"HTTP {status}" in info.value.reason
    assert twilio_fake.messages == []


def test_a_rate_limit_carries_the_wait_twilio_asks_for(twilio_fake):
    body = json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}).encode()
    twilio_fake.answer_next(status=429, body=body, headers={"Retry-After": "7"})
    with pytest.raises(messaging.SmsTransientError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>ok</html>", b"[]", b'{"status": "queued"}', b'{"sid": 12, "status": "queued"}'],
)
def test_an_unreadable_success_is_transient(twilio_fake, body):
    twilio_fake.answer_next(status=201, body=body)
    with pytest.raises(messaging.SmsTransientError, match="could not be read"):
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")


def test_no_answer_within_the_timeout_is_transient(twilio_fake, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.3
    twilio_fake.hang_next(seconds=30)
    started = time.monotonic()
    with pytest.raises(messaging.SmsTransientError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert time.monotonic() - started < 5
    assert info.value.reason == "The provider did not answer within 0.3 seconds."
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_a_refused_connection_is_transient(twilio_fake, settings):
    # A port that was just free and is closed again: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(messaging.SmsTransientError) as info:
        messaging.send_sms(to=NUMBER, body=BODY, idempotency_key="k")
    assert info.value.reason == "Could not reach the provider (ConnectError)."
    assert info.value.code == ""


@pytest.mark.parametrize("name", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_FROM_NUMBER"])
def test_it_refuses_to_start_without_its_settings(twilio_fake, settings, name):
    setattr(settings, name, "")
    with pytest.raises(ImproperlyConfigured, match=name):
        messaging.get_sms_backend()


def test_a_messaging_service_stands_in_for_the_from_number(twilio_fake, settings):
    settings.SMS_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "b" * 32
    assert isinstance(messaging.get_sms_backend(), messaging.TwilioSmsBackend)


# --- Twilio webhook signatures -------------------------------------------------------------

DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_TOKEN = "12345"


def docs_params(caller: str) -> dict[str, str]:
    return {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller, "To": "+18005551212"}


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        # Twilio's "Webhooks security" worked example, as printed today...
        ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
        # ...and as older versions of the page printed it, with another caller.
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    ],
)
def test_it_signs_twilios_published_example(caller, expected):
    assert messaging.twilio_signature(DOCS_URL, docs_params(caller), DOCS_TOKEN) == expected
    assert messaging.twilio_signature_is_valid(DOCS_URL, docs_params(caller), expected, DOCS_TOKEN)


def test_a_signature_made_with_another_token_is_refused():
    params = docs_params("+14158675310")
    assert not messaging.twilio_signature_is_valid(DOCS_URL, params, "GvWf1cFY/Q7PnoempGyD5oXAezc=", "54321")


def test_a_tampered_added_or_dropped_param_is_refused():
    signature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    tampered = {**docs_params("+14158675310"), "Digits": "9999"}
    added = {**docs_params("+14158675310"), "Body": "STOP"}
    dropped = {k: v for k, v in docs_params("+14158675310").items() if k != "Digits"}
    for params in (tampered, added, dropped):
        assert not messaging.twilio_signature_is_valid(DOCS_URL, params, signature, DOCS_TOKEN)


def test_the_query_string_is_signed():
    params = docs_params("+14158675310")
    signature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert not messaging.twilio_signature_is_valid(
        "https://mycompany.com/myapp.php?foo=1&bar=3", params, signature, DOCS_TOKEN
    )
    assert not messaging.twilio_signature_is_valid("https://mycompany.com/myapp.php", params, signature, DOCS_TOKEN)


def test_a_signature_is_accepted_with_or_without_the_default_port():
    params = docs_params("+14158675310")
    signature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert messaging.twilio_signature_is_valid(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", params, signature, DOCS_TOKEN
    )
    assert not messaging.twilio_signature_is_valid(
        "https://mycompany.com:8443/myapp.php?foo=1&bar=2", params, signature, DOCS_TOKEN
    )
    with_port = messaging.twilio_signature("https://mycompany.com:443/myapp.php", params, DOCS_TOKEN)
    assert messaging.twilio_signature_is_valid("https://mycompany.com/myapp.php", params, with_port, DOCS_TOKEN)


def test_a_repeated_param_signs_each_value_in_order_whatever_order_it_came_in():
    url = "https://clinic.example/api/v1/sms/inbound/"
    # Each value, sorted, after its name: "Media" + "a.png" + "Media" + "b.png".
    expected = base64.b64encode(
        hmac.new(b"tok", (url + "Bodyhi" + "Mediaa.png" + "Mediab.png").encode(), hashlib.sha1).digest()
    ).decode()
    assert messaging.twilio_signature(url, {"Media": ["b.png", "a.png"], "Body": "hi"}, "tok") == expected
    # request.POST as Django hands it over: a QueryDict keeps both values.
    form = QueryDict("Media=b.png&Body=hi&Media=a.png")
    assert messaging.twilio_signature_is_valid(url, form, expected, "tok")
    assert not messaging.twilio_signature_is_valid(url, QueryDict("Media=b.png&Body=hi"), expected, "tok")


def test_an_empty_or_garbled_signature_is_refused_without_error():
    params = docs_params("+14158675310")
    for signature in ("", "GvWf1cFY/Q7PnoempGyD5oXAezc", "é" * 28):
        assert not messaging.twilio_signature_is_valid(DOCS_URL, params, signature, DOCS_TOKEN)
    # Unconfigured (empty) token: anyone could sign with it, so nothing is valid.
    forged = messaging.twilio_signature(DOCS_URL, params, "")
    assert not messaging.twilio_signature_is_valid(DOCS_URL, params, forged, "")


@given(
    params=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=6),
    token=st.text(min_size=1, max_size=16),
)
def test_a_signature_fits_its_own_request_and_no_altered_one(params, token):
    url = "https://clinic.example/hooks/sms?clinic=1"
    signature = messaging.twilio_signature(url, params, token)
    assert messaging.twilio_signature_is_valid(url, params, signature, token)
    for name in params:
        altered = {**params, name: params[name] + "x"}
        assert not messaging.twilio_signature_is_valid(url, altered, signature, token)
