import time
from datetime import date, timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from clinic.celery import app
from clinic.roles import Role
from clinic.services import licence_expiry_notice_send
from clinic.tasks import licence_expiry_notify
from tests.clinic.factories import LocationFactory, StaffProfileFactory, UserFactory

TODAY = date(2026, 11, 23)


@pytest.fixture
def admin_with_email(make_user):
    return make_user(Role.CLINIC_ADMIN, email="director@example.org")


@pytest.mark.django_db
def test_it_emails_clinic_admins_what_lapses_within_the_window(admin_with_email, settings):
    settings.LICENCE_EXPIRY_WARNING_DAYS = 60
    LocationFactory.create(name="North", state_license_number="L-1", state_license_expires=TODAY + timedelta(days=30))
    LocationFactory.create(name="South", state_license_expires=TODAY + timedelta(days=400))
    StaffProfileFactory.create(
        user=UserFactory.create(first_name="Kim", last_name="Lee", roles=[Role.PRESCRIBER]),
        credentials="MD",
        license_state="NY",
        license_number="NY-9",
        license_expires=TODAY - timedelta(days=1),
    )
    assert licence_expiry_notice_send(today=TODAY) == 2
    [message] = mail.outbox
    assert message.to == ["director@example.org"]
    assert "North: state licence L-1 expires 2026-12-23" in message.body
    assert "Kim Lee, MD: NY licence NY-9 expires 2026-11-22" in message.body
    assert "South" not in message.body


@pytest.mark.django_db
def test_it_sends_nothing_when_nothing_lapses(admin_with_email):
    LocationFactory.create(state_license_expires=TODAY + timedelta(days=365))
    assert licence_expiry_notice_send(today=TODAY) == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_task_counts_days_from_today_in_the_clinic_zone(admin_with_email, settings):
    settings.LICENCE_EXPIRY_WARNING_DAYS = 60
    # 60 days after 2026-11-16 (the UTC date at 03:00 UTC); New York is still on 11-15 then.
    LocationFactory.create(name="North", state_license_expires=date(2027, 1, 15))
    with time_machine.travel("2026-11-16 03:00:00+00:00", tick=False):
        assert licence_expiry_notify() == 0
    with time_machine.travel("2026-11-16 12:00:00+00:00", tick=False):
        assert licence_expiry_notify() == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_task_from_redis(admin_with_email):
    """The beat entry enqueues through Redis; a real worker consumes it and writes to the database."""
    LocationFactory.create(name="North", state_license_expires=timezone.localdate() + timedelta(days=5))
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        licence_expiry_notify.delay()
        # Bounded wait for the worker thread; nothing here measures speed.
        for _ in range(300):
            if mail.outbox:
                break
            time.sleep(0.05)
    assert len(mail.outbox) == 1
    assert "North: state licence" in mail.outbox[0].body


def test_the_beat_schedule_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
