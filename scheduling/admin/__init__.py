"""The scheduling admin, one module per area (imported so Django registers them)."""

from scheduling.admin import bookings, reminders, sessions  # noqa: F401
