"""The root of the domain: locations, rooms, staff, levels of care and the audit log."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords
from timezone_field import TimeZoneField

from clinic.validators import validate_npi

US_STATE = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code, e.g. NY.")


class PublicModel(models.Model):
    """Base for everything the API addresses: a UUID outside, an integer key inside."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Accreditation(models.TextChoices):
    NONE = "", "None"
    JOINT_COMMISSION = "joint_commission", "The Joint Commission"
    CARF = "carf", "CARF"
    COA = "coa", "Council on Accreditation (COA)"
    OTHER = "other", "Other"


class Location(PublicModel):
    name = models.CharField(max_length=200, unique=True)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, validators=[US_STATE])
    postal_code = models.CharField(
        max_length=10, validators=[RegexValidator(r"^\d{5}(-\d{4})?$", "Use a ZIP or ZIP+4.")]
    )
    phone = PhoneNumberField(blank=True)
    time_zone = TimeZoneField(help_text="IANA time zone; sessions at this location are scheduled in it.")
    state_license_number = models.CharField(max_length=64, blank=True)
    state_license_expires = models.DateField(null=True, blank=True)
    accreditation_body = models.CharField(max_length=32, choices=Accreditation.choices, blank=True)
    accreditation_expires = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="location_licence_number_with_expiry",
                condition=Q(state_license_number="") | Q(state_license_expires__isnull=False),
                violation_error_message="A state licence number needs its expiry date.",
            ),
            models.CheckConstraint(
                name="location_accreditation_with_expiry",
                condition=Q(accreditation_body="") | Q(accreditation_expires__isnull=False),
                violation_error_message="An accreditation needs its expiry date.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Room(PublicModel):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)
    capacity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    is_virtual = models.BooleanField(default=False, help_text="A telehealth room: no physical space.")
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="room_name_unique_per_location"),
            models.CheckConstraint(name="room_capacity_positive", condition=Q(capacity__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.name})" if self.location_id else self.name


class StaffProfile(PublicModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_profile")
    credentials = models.CharField(max_length=100, blank=True, help_text="e.g. MD, PMHNP-BC, LCSW, LADC, RN")
    npi = models.CharField(
        "NPI", max_length=10, blank=True, validators=[validate_npi], help_text="10-digit National Provider Identifier."
    )
    license_state = models.CharField(max_length=2, blank=True, validators=[US_STATE])
    license_number = models.CharField(max_length=64, blank=True)
    license_expires = models.DateField(null=True, blank=True)
    phone = PhoneNumberField(blank=True)
    primary_location = models.ForeignKey(
        Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="staff"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            # Two people cannot share an NPI; many staff (counsellors, desk staff) have none.
            models.UniqueConstraint(fields=["npi"], condition=~Q(npi=""), name="staff_npi_unique"),
            models.CheckConstraint(
                name="staff_licence_complete",
                condition=Q(license_number="") | (~Q(license_state="") & Q(license_expires__isnull=False)),
                violation_error_message="A licence number needs its state and expiry date.",
            ),
        ]

    def __str__(self) -> str:
        name = self.user.get_full_name() or self.user.get_username()
        return f"{name}, {self.credentials}" if self.credentials else name


class LevelOfCare(PublicModel):
    """Reference data: an ASAM level and the weekly clinical-hours band that defines it.

    Seeded from ../shared/reference/clinical.md section 4 (ASAM Criteria 3rd ed., 2013,
    adult hours); editable because states adopting the 4th edition relabel levels.
    """

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    asam_code = models.CharField("ASAM code", max_length=16)
    asam_edition = models.PositiveSmallIntegerField("ASAM Criteria edition", default=3)
    min_weekly_hours = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Inclusive lower bound of clinical hours a week.",
    )
    max_weekly_hours = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Exclusive upper bound; empty when the level has none.",
    )
    is_residential = models.BooleanField(default=False, help_text="Delivered elsewhere; we refer out to it.")
    sort_order = models.PositiveSmallIntegerField(default=0, help_text="Most intensive first.")
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name_plural = "levels of care"
        constraints = [
            models.CheckConstraint(
                name="level_hours_band_ordered",
                condition=Q(min_weekly_hours__isnull=True)
                | Q(max_weekly_hours__isnull=True)
                | Q(max_weekly_hours__gt=models.F("min_weekly_hours")),
                violation_error_message="The upper bound of the hours band must be above the lower bound.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (ASAM {self.asam_code})"

    @property
    def hours_band(self) -> str:
        low, high = self.min_weekly_hours, self.max_weekly_hours
        if low is None and high is None:
            return "not defined by weekly hours"
        if high is None:
            return f"{_hours(low)} h or more a week"
        if not low:
            return f"under {_hours(high)} h a week"
        return f"{_hours(low)} h to under {_hours(high)} h a week"


def _hours(value: Decimal | None) -> str:
    # 9.00 -> "9", 7.50 -> "7.5"
    return f"{Decimal(value or 0).normalize():f}"


class AuditAction(models.TextChoices):
    READ = "read", "Read"
    LIST = "list", "Read in a list"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    BREAK_GLASS = "break_glass", "Break the glass"
    DISCLOSE = "disclose", "Disclose"
    EXPORT = "export", "Export"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEvent(models.Model):
    """Append-only: who did what to which record of which patient, when, from where.

    The app refuses updates and deletes, and a database trigger (migration 0002)
    refuses them from any client of the database.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(auto_now_add=True)
    # PROTECT: staff accounts are deactivated, never deleted, once they have touched records
    # (Django enforces it when a user is deleted). No index of its own: audit_actor_time
    # below starts with the actor, and every event written (a list writes one per patient)
    # would keep a second copy up to date. No database constraint either: PostgreSQL checks
    # a foreign key row by row, a third of a list's audit insert, for a value that always
    # comes from the authenticated user, and the username is kept beside it anyway.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True, help_text="Kept as it was at the time.")
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    # A UUID, not a foreign key: the trail outlives any record it mentions.
    patient_id = models.UUIDField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    via = models.CharField(max_length=16, blank=True, help_text="api, admin or system")
    reason = models.TextField(blank=True, help_text="Why, when the access needed one (break the glass).")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # "Who looked at this patient's record?": the accounting a patient may ask for.
            models.Index(fields=["patient_id", "occurred_at"], name="audit_patient_time"),
            # "What did this user do?": reviews of a staff member's access.
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_username or 'system'} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class LicenceExpiryNotice(models.Model):
    """The day's licence-expiry email to the clinic administrators, once sent. The daily task is
    acknowledged late, so a worker that dies during it has it run again, and beat may run it twice
    around a restart: the row, taken in the transaction that sends the email, makes the second
    run of a day send nothing."""

    sent_on = models.DateField(unique=True)
    items = models.PositiveIntegerField(help_text="Licences and accreditations the email listed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_on"]

    def __str__(self) -> str:
        return f"Licence expiry notice of {self.sent_on}"
