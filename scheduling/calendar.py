"""A clinician's iCalendar feed (RFC 5545) behind a signed, revocable token.

Calendar apps fetch the feed without logging in, and copies of it end up on phones and in
third-party calendar services: it carries patient initials only, never names, and nothing
about the kind of program. The token is a Django-signed reference to a CalendarFeed row;
revoking the row kills every copy of the URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.core import signing
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from clinic.roles import CLINICAL_ROLES, has_any_role
from scheduling.models import CalendarFeed, Session, SessionStatus

SALT = "scheduling.calendar-feed"
PAST_DAYS = 30


def feed_token(feed: CalendarFeed) -> str:
    return signing.dumps(str(feed.public_id), salt=SALT)


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed a token names, or None (bad signature, unknown or revoked)."""
    try:
        public_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    feed = CalendarFeed.objects.filter(public_id=public_id, revoked_at__isnull=True).select_related("user").first()
    # A deactivated account, or one no longer in a clinical role, has no feed any more.
    if feed is None or not feed.user.is_active or not has_any_role(feed.user, CLINICAL_ROLES):
        return None
    return feed


def feed_url(feed: CalendarFeed, request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("calendar-feed", args=[feed_token(feed)]))


def initials(first: str, last: str) -> str:
    return "".join(f"{name.strip()[0].upper()}." for name in (first, last) if name.strip())


def window() -> tuple[object, object]:
    now = timezone.now()
    return now - timedelta(days=PAST_DAYS), now + timedelta(weeks=26)


def render(sessions: Iterable[Session]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//clinic backend//calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Work schedule")
    for session in sessions:
        event = Event()
        event.add("uid", f"{session.public_id}@clinic")
        event.add("dtstamp", session.updated_at)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        # live_bookings: prefetched by selectors.session_list.
        booked = getattr(session, "live_bookings", [])
        patients = [initials(b.patient.legal_first_name, b.patient.legal_last_name) for b in booked]
        if session.track is not None:
            summary = f"{session.track.name} ({len(patients)} booked)"
        else:
            summary = f"{session.session_type.name}: {', '.join(patients) or 'no one booked'}"
        event.add("summary", summary)
        if session.room is not None:
            event.add("location", session.room.name)
        if session.status == SessionStatus.CANCELLED:
            event.add("status", "CANCELLED")
        calendar.add_component(event)
    return calendar.to_ical()
