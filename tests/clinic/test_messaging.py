import json
import logging

import pytest

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
