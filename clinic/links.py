"""Links in what we send to staff."""

from django.conf import settings


def staff_link(path: str) -> str:
    """`path` (from the site root) under STAFF_LINK_BASE_URL. Staff emails carry a link, never
    the patient's name or clinical detail: the reader follows it and logs in."""
    return f"{settings.STAFF_LINK_BASE_URL.rstrip('/')}{path}"
