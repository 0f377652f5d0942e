"""Writes and side effects of the clinic app."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from clinic import selectors
from clinic.models import LicenceExpiryNotice
from clinic.roles import Role


@transaction.atomic
def licence_expiry_notice_send(*, today: date) -> int:
    """Email the clinic administrators what lapses within the warning window.

    Returns the number of expiring items. Sends nothing when none are expiring, when no
    administrator has an email address, or when the day's notice went already (a redelivered
    or repeated run: it returns 0). Holds no patient data.
    """
    within = settings.LICENCE_EXPIRY_WARNING_DAYS
    lines: list[str] = []
    for location in selectors.locations_with_expiring_credentials(today=today, within_days=within):
        lapsing = [
            (f"state licence {location.state_license_number}", location.state_license_expires),
            (f"{location.get_accreditation_body_display()} accreditation", location.accreditation_expires),
        ]
        lines += [
            f"{location.name}: {what} expires {expires:%Y-%m-%d}"
            for what, expires in lapsing
            if expires is not None and (expires - today).days <= within
        ]
    for profile in selectors.staff_with_expiring_licences(today=today, within_days=within):
        licence = f"{profile.license_state} licence {profile.license_number}"
        lines.append(f"{profile}: {licence} expires {profile.license_expires:%Y-%m-%d}")
    if not lines:
        return 0
    recipients = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.CLINIC_ADMIN)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if recipients:
        # The day's row first: a second run waits on its unique index until this one commits, then
        # finds it. A worker killed after the email left but before the commit sends it once more.
        _, first = LicenceExpiryNotice.objects.get_or_create(sent_on=today, defaults={"items": len(lines)})
        if not first:
            return 0
        body = f"These licences and accreditations lapse within {within} days (or already have):\n\n" + "\n".join(
            f"- {line}" for line in sorted(lines)
        )
        send_mail(
            subject=f"{len(lines)} licence(s) or accreditation(s) expiring",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    return len(lines)
