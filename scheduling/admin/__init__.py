"""The scheduling admin, one module per area (imported so Django registers them)."""

from scheduling.admin import appointments, bookings, reminders, sessions  # noqa: F401
