"""Clearinghouse backends. CoreHttpBackend is tested over real HTTP against the fake CORE endpoint
in tests/fakes/clearinghouse.py, on 127.0.0.1. No database."""

import logging
import socket
import ssl
import uuid
from datetime import UTC, datetime, timedelta

import certifi
import pytest
from django.core.exceptions import ImproperlyConfigured

from insurance.clearinghouse import (
    ClearinghouseBackend,
    ClearinghouseError,
    CoreHttpBackend,
    FileBackend,
    ManualBackend,
    Submission,
    get_backend,
    new_payload_id,
)
from tests.fakes.clearinghouse import SAMPLE_270, clearinghouse_fake_fixture  # noqa: F401

HTTP = "insurance.clearinghouse.CoreHttpBackend"
X12_270 = SAMPLE_270.read_text()
SENDER, RECEIVER = "CLINIC0001", "CLEARHOUSE"
# A name from the sample 270's subscriber loop: it must never reach a log or an error message.
PATIENT_NAME = "SMITH"


def submit(backend, payload_id=None):
    return backend.submit(
        x12_270=X12_270, payload_id=payload_id or new_payload_id(), sender_id=SENDER, receiver_id=RECEIVER
    )


def http_backend(fake, **overrides):
    return get_backend(HTTP, **fake.backend_options(**overrides))


def test_the_sample_270_names_the_patient():
    # The logging tests below rely on it.
    assert PATIENT_NAME in X12_270


# --- choosing a backend -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "backend_class", "mode"),
    [
        ("insurance.clearinghouse.ManualBackend", ManualBackend, "manual"),
        ("insurance.clearinghouse.FileBackend", FileBackend, "file"),
    ],
)
def test_the_backend_is_chosen_by_dotted_path(path, backend_class, mode):
    backend = get_backend(path)
    assert type(backend) is backend_class
    assert backend.mode == mode


def test_the_http_backend_takes_its_options():
    backend = get_backend(
        HTTP, url="https://core.example/realtime", username="u", password="p", timeout=12, verify=False
    )
    assert isinstance(backend, CoreHttpBackend)
    assert (backend.mode, backend.url, backend.timeout, backend.verify) == (
        "http",
        "https://core.example/realtime",
        12.0,
        False,
    )


def test_the_http_backend_takes_a_ca_bundle_and_names_one_it_cannot_read(tmp_path):
    backend = get_backend(HTTP, url="https://core.example/", username="u", password="p", verify=certifi.where())
    assert isinstance(backend, CoreHttpBackend)
    assert isinstance(backend.verify, ssl.SSLContext)
    with pytest.raises(ImproperlyConfigured, match=r"missing-ca\.pem"):
        get_backend(
            HTTP, url="https://core.example/", username="u", password="p", verify=str(tmp_path / "missing-ca.pem")
        )


def test_manual_and_file_backends_ignore_options_meant_for_http():
    # One settings block serves every mode: switching modes changes only the backend path.
    backend = get_backend("insurance.clearinghouse.FileBackend", url="https://core.example/", username="u")
    assert backend.mode == "file"


def test_it_names_a_path_with_no_backend():
    with pytest.raises(ImproperlyConfigured, match="NoSuchBackend"):
        get_backend("insurance.clearinghouse.NoSuchBackend")


def test_it_refuses_a_class_that_is_not_a_backend():
    with pytest.raises(ImproperlyConfigured, match="not a ClearinghouseBackend"):
        get_backend("insurance.clearinghouse.Submission")


def test_the_http_backend_names_the_options_it_lacks():
    with pytest.raises(ImproperlyConfigured, match="url, password"):
        get_backend(HTTP, url="", username="u", password="")
    with pytest.raises(ImproperlyConfigured, match="cannot take these options"):
        get_backend(HTTP, url="https://core.example/", username="u", password="p", retries=3)


def test_the_http_backend_refuses_plain_http_except_to_this_machine():
    with pytest.raises(ImproperlyConfigured, match="https://"):
        get_backend(HTTP, url="http://core.example/realtime", username="u", password="p")
    assert get_backend(HTTP, url="http://127.0.0.1:9/realtime", username="u", password="p").mode == "http"


def test_the_http_backend_refuses_a_timeout_of_zero():
    with pytest.raises(ImproperlyConfigured, match="timeout"):
        get_backend(HTTP, url="https://core.example/", username="u", password="p", timeout=0)


def test_the_base_class_sends_nothing():
    with pytest.raises(NotImplementedError):
        submit(ClearinghouseBackend())


# --- manual and file -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_class", [ManualBackend, FileBackend])
def test_manual_and_file_backends_leave_the_270_for_staff(backend_class, caplog):
    payload_id = new_payload_id()
    with caplog.at_level(logging.INFO, logger="insurance.clearinghouse"):
        submission = submit(backend_class(), payload_id)
    assert submission == Submission(status="awaiting_staff", payload_id=payload_id)
    assert payload_id in caplog.text
    assert PATIENT_NAME not in caplog.text


# --- CORE over HTTP: the round trip --------------------------------------------------------------------


def test_it_returns_the_271_the_clearinghouse_served(clearinghouse_fake):
    payload_id = new_payload_id()
    submission = submit(http_backend(clearinghouse_fake), payload_id)
    assert submission.status == "answered"
    assert submission.payload_id == payload_id
    assert submission.x12_271 == clearinghouse_fake.x12_271
    assert submission.x12_271.startswith("ISA*03*9876543210")
    # The whole envelope is kept for debugging, 271 included.
    assert "X12_271_Response_005010X279A1" in submission.raw_response
    assert clearinghouse_fake.x12_271 in submission.raw_response


def test_it_returns_a_271_with_any_line_endings_unchanged(clearinghouse_fake):
    clearinghouse_fake.x12_271 = clearinghouse_fake.x12_271.replace("~\n", "~\r\n")
    assert submit(http_backend(clearinghouse_fake)).x12_271 == clearinghouse_fake.x12_271


def test_it_sends_the_core_envelope(clearinghouse_fake):
    payload_id = new_payload_id()
    before = datetime.now(tz=UTC).replace(microsecond=0)
    submit(http_backend(clearinghouse_fake), payload_id)

    [request] = clearinghouse_fake.requests
    assert request.content_type.startswith("multipart/form-data; boundary=")
    fields = dict(request.fields)
    sent_at = datetime.strptime(fields.pop("TimeStamp"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= sent_at <= datetime.now(tz=UTC) + timedelta(seconds=1)
    assert fields == {
        "ProcessingMode": "RealTime",
        "PayloadType": "X12_270_Request_005010X279A1",
        "PayloadID": payload_id,
        "UserName": clearinghouse_fake.username,
        "Password": clearinghouse_fake.password,
        "SenderID": SENDER,
        "ReceiverID": RECEIVER,
        "CORERuleVersion": "2.2.0",
        "Payload": X12_270,
    }


def test_it_sends_the_credentials_it_was_given(clearinghouse_fake):
    clearinghouse_fake.username, clearinghouse_fake.password = "another-user", "another-password"
    submit(http_backend(clearinghouse_fake))
    [request] = clearinghouse_fake.requests
    assert (request.username, request.password) == ("another-user", "another-password")


def test_it_refuses_a_payload_id_that_is_not_a_uuid(clearinghouse_fake):
    with pytest.raises(ValueError, match="UUID"):
        submit(http_backend(clearinghouse_fake), payload_id="check-42")
    assert clearinghouse_fake.requests == []


def test_new_payload_ids_are_distinct_uuids():
    ids = {new_payload_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(payload_id).version == 1 for payload_id in ids)


# --- CORE over HTTP: errors -------------------------------------------------------------------------------


def submit_error(fake, **overrides):
    with pytest.raises(ClearinghouseError) as caught:
        submit(http_backend(fake, **overrides))
    return caught.value


def test_wrong_credentials_are_permanent_and_say_so(clearinghouse_fake):
    error = submit_error(clearinghouse_fake, password="not-the-password")
    assert error.transient is False
    assert (error.code, error.status_code) == ("UnAuthorized", 401)
    assert "user name or password" in error.message
    assert error.detail == "Invalid user name or password"
    [request] = clearinghouse_fake.requests
    assert request.password == "not-the-password"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_a_server_failure_without_envelope_is_transient(clearinghouse_fake, status):
    clearinghouse_fake.answer_http_error(status, body=b"<html>Bad Gateway</html>", content_type="text/html")
    error = submit_error(clearinghouse_fake)
    assert error.transient is True
    assert (error.code, error.status_code) == (f"http_{status}", status)
    assert "try again later" in error.message


@pytest.mark.parametrize(
    ("status", "says"), [(404, "clearinghouse URL"), (400, "refused the request"), (403, "credentials")]
)
def test_a_client_error_without_envelope_is_permanent(clearinghouse_fake, status, says):
    clearinghouse_fake.answer_http_error(status)
    error = submit_error(clearinghouse_fake)
    assert error.transient is False
    assert error.code == f"http_{status}"
    assert says in error.message


def test_a_wrong_url_is_a_permanent_404(clearinghouse_fake):
    error = submit_error(clearinghouse_fake, url=clearinghouse_fake.url.replace("/core/", "/kore/"))
    assert (error.transient, error.code) == (False, "http_404")


@pytest.mark.parametrize(("code", "status"), [("Busy", 200), ("ServerError", 500), ("ServiceUnavailable", 503)])
def test_a_core_error_for_the_clearinghouse_own_trouble_is_transient(clearinghouse_fake, code, status):
    clearinghouse_fake.answer_core_error(code, status=status, message="Try later")
    error = submit_error(clearinghouse_fake)
    assert error.transient is True
    assert (error.code, error.status_code, error.detail) == (code, status, "Try later")
    assert f"CORE ErrorCode {code}" in error.message


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("UnAuthorized", "credentials"),
        ("VersionMismatch", "CORE rule version 2.2.0"),
        ("SenderIDIllegal", "sender ID"),
        ("ReceiverIDRequired", "receiver ID"),
        ("PayloadIDDuplicate", "refuse it again"),
    ],
)
def test_a_core_error_about_the_request_is_permanent(clearinghouse_fake, code, says):
    clearinghouse_fake.answer_core_error(code, status=400)
    error = submit_error(clearinghouse_fake)
    assert error.transient is False
    assert error.code == code
    assert says in error.message


def test_an_unknown_core_error_with_a_server_status_is_transient(clearinghouse_fake):
    clearinghouse_fake.answer_core_error("GatewayExploded", status=502)
    assert submit_error(clearinghouse_fake).transient is True


def test_an_envelope_field_the_clearinghouse_finds_missing_is_named(clearinghouse_fake):
    backend = http_backend(clearinghouse_fake)
    with pytest.raises(ClearinghouseError) as caught:
        backend.submit(x12_270=X12_270, payload_id=new_payload_id(), sender_id="", receiver_id=RECEIVER)
    assert (caught.value.transient, caught.value.code, caught.value.status_code) == (False, "SenderIDRequired", 400)
    assert "SenderID we sent is missing: check the clinic's sender ID" in caught.value.message


def test_garbage_is_permanent_and_points_at_the_url(clearinghouse_fake):
    clearinghouse_fake.answer_garbage()
    error = submit_error(clearinghouse_fake)
    assert (error.transient, error.code, error.status_code) == (False, "not_core", 200)
    assert "text/html" in error.message
    assert "URL" in error.message
    assert "Service status" in error.raw_response


def test_a_success_without_a_271_is_permanent(clearinghouse_fake):
    clearinghouse_fake.answer_without_271()
    error = submit_error(clearinghouse_fake)
    assert (error.transient, error.code) == (False, "no_271")
    assert "without a 271" in error.message
    assert "no Payload" in error.message


def test_a_999_instead_of_a_271_is_permanent(clearinghouse_fake):
    clearinghouse_fake.answer_without_271(
        payload_type="X12_999_Response_005010X231A1", payload="ISA*00*...~ST*999*0001*005010X231A1~"
    )
    error = submit_error(clearinghouse_fake)
    assert (error.transient, error.code) == (False, "no_271")
    assert "X12_999_Response_005010X231A1" in error.message
    assert "ST*999" in error.raw_response


def test_a_271_payload_that_is_not_x12_is_permanent(clearinghouse_fake):
    clearinghouse_fake.x12_271 = "Eligibility service unavailable"
    assert submit_error(clearinghouse_fake).code == "no_271"


def test_no_answer_in_time_is_transient(clearinghouse_fake):
    clearinghouse_fake.hang_next(5)
    error = submit_error(clearinghouse_fake, timeout=0.3)
    assert (error.transient, error.code) == (True, "timeout")
    assert "0.3 seconds" in error.message


def test_a_refused_connection_is_transient():
    # A port nobody listens on: bound, then closed.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = get_backend(HTTP, url=f"http://127.0.0.1:{port}/core/realtime", username="u", password="p", timeout=2)
    with pytest.raises(ClearinghouseError) as caught:
        submit(backend)
    assert (caught.value.transient, caught.value.code) == (True, "connection")
    assert "Could not reach the clearinghouse at 127.0.0.1" in caught.value.message


# --- no patient data in logs or messages --------------------------------------------------------------------


def test_a_round_trip_logs_the_payload_id_and_nothing_of_the_patient(clearinghouse_fake, caplog):
    payload_id = new_payload_id()
    with caplog.at_level(logging.DEBUG):
        submit(http_backend(clearinghouse_fake), payload_id)
    assert payload_id in caplog.text
    assert PATIENT_NAME not in caplog.text
    assert "ISA*" not in caplog.text
    assert clearinghouse_fake.password not in caplog.text


@pytest.mark.parametrize(
    "break_it",
    [
        lambda fake: fake.answer_core_error("ServerError", status=500, message=f"Cannot process {PATIENT_NAME}"),
        lambda fake: fake.answer_without_271(payload_type="X12_999_Response_005010X231A1", payload=X12_270),
        lambda fake: fake.answer_http_error(500, body=X12_270.encode()),
        lambda fake: fake.answer_http_error(400, body=X12_270.encode()),
    ],
)
def test_a_failure_logs_and_says_nothing_of_the_patient(clearinghouse_fake, caplog, break_it):
    break_it(clearinghouse_fake)
    payload_id = new_payload_id()
    with caplog.at_level(logging.DEBUG), pytest.raises(ClearinghouseError) as caught:
        submit(http_backend(clearinghouse_fake), payload_id)
    assert payload_id in caplog.text
    assert PATIENT_NAME not in caplog.text
    assert PATIENT_NAME not in str(caught.value)
    assert PATIENT_NAME not in repr(caught.value)


def test_a_submission_shows_no_patient_data_when_printed(clearinghouse_fake):
    submission = submit(http_backend(clearinghouse_fake))
    assert PATIENT_NAME in submission.x12_271
    assert PATIENT_NAME not in repr(submission)
