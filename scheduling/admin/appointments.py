"""The desk's "Schedule an appointment" page: a one-to-one session booked through
scheduling.services.appointments.appointment_create, as POST /api/v1/appointments/ books it, with
the service's refusals (a double booking, a lead who may not lead that type, a patient not yet
admitted, a time gone by) shown on the form with what was typed, and nothing written.

Its two searches (patients, staff) are views of their own rather than the admin's generic
autocomplete: a patient is labelled with name, MRN and date of birth (str() of a patient is the
MRN only, and two people share a name), the search is audited like a list, and staff are those
who may lead the chosen type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import (
    AdminDateWidget,
    AdminTimeWidget,
    AutocompleteSelect,
    AutocompleteSelectMultiple,
)
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone

from clinic.audit import audit_record, audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction, Location, Room
from clinic.roles import may_act_as, roles_of
from patients.access import scope_to_visible_patients
from patients.models import Patient, PatientContact
from scheduling.models import Booking, Modality, SessionStaff, SessionType
from scheduling.services import SCHEDULERS

User = get_user_model()

TITLE = "Schedule appointment"


def may_schedule(user: Any) -> bool:
    """The roles the booking service lets book (the desk, clinical staff, clinic administrators),
    holding the admin's permission to add sessions."""
    return may_act_as(user, SCHEDULERS) and user.has_perm("scheduling.add_session")


def one_to_one_types() -> QuerySet[SessionType]:
    # Group sessions come from tracks (the service refuses them too).
    return SessionType.objects.filter(is_group=False, is_active=True).order_by("name")


def leads(session_type: SessionType | None = None) -> QuerySet[Any]:
    """Active staff holding a role that may lead `session_type`, or any one-to-one type."""
    if session_type is not None:
        roles = set(session_type.lead_roles)
    else:
        roles = {role for lead_roles in one_to_one_types().values_list("lead_roles", flat=True) for role in lead_roles}
    holders = User.groups.through.objects.filter(group__name__in=roles).values("user_id")
    return (
        User.objects.filter(is_active=True, pk__in=holders)
        .select_related("staff_profile")
        .prefetch_related("groups")
        .order_by("last_name", "first_name", "pk")
    )


def patient_label(patient: Patient) -> str:
    born = f"{patient.date_of_birth:%Y-%m-%d}"
    return f"{patient.legal_last_name}, {patient.legal_first_name} (MRN {patient.mrn}, born {born})"


def staff_label(user: Any) -> str:
    profile = getattr(user, "staff_profile", None)
    name = user.get_full_name() or user.username
    credentials = f", {profile.credentials}" if profile is not None and profile.credentials else ""
    roles = ", ".join(sorted(roles_of(user)))
    return f"{name}{credentials} ({roles})" if roles else f"{name}{credentials}"


# --- the two searches ---------------------------------------------------------------------------


class _Lookup(AutocompleteJsonView):
    """Django's autocomplete JSON (select2's shape, paginated by the related admin), with the
    queryset, the permission and the labels of this page. `source_field` is a real foreign key of
    the kind the page fills in, which is all the parent class reads from it."""

    model: type[Model]
    source_field_of: tuple[type[Model], str]

    def process_request(self, request: HttpRequest) -> tuple[str, Any, Any, str]:
        model, name = self.source_field_of
        assert self.admin_site is not None  # noqa: S101 (set by as_view)
        return request.GET.get("term", ""), self.admin_site._registry[self.model], model._meta.get_field(name), "pk"

    def has_perm(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_schedule(request.user)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        self.term, self.model_admin, self.source_field, _ = self.process_request(request)
        if not self.has_perm(request):
            raise PermissionDenied
        self.object_list = self.get_queryset()
        context = self.get_context_data()
        found = list(context["object_list"])
        self.found(request, found)
        return JsonResponse(
            {
                "results": [{"id": str(obj.pk), "text": self.label(obj)} for obj in found],
                "pagination": {"more": context["page_obj"].has_next()},
            }
        )

    def search(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The related admin's own search, so the desk types here what it types in that list.
        queryset, distinct = self.model_admin.get_search_results(self.request, queryset, self.term)
        return queryset.distinct() if distinct else queryset

    def found(self, request: HttpRequest, objects: list[Any]) -> None:
        pass

    def label(self, obj: Any) -> str:
        return str(obj)


class PatientLookup(_Lookup):
    """Patients the user may see, found by name, MRN, phone or date of birth (the patient list's
    search); each answer is audited as a list of those patients, as the API's patient list is."""

    model = Patient
    source_field_of = (Booking, "patient")

    def get_queryset(self) -> QuerySet[Patient]:
        visible = scope_to_visible_patients(Patient.objects.all(), self.request.user, patient_path="", clinical=False)
        return self.search(visible.order_by("legal_last_name", "legal_first_name", "pk"))

    def found(self, request: HttpRequest, objects: list[Any]) -> None:
        audit_record_many(
            (audit_target_for(patient, patient_path="") for patient in objects),
            action=AuditAction.LIST,
            actor=request.user,
            request=request,
            via="admin",
        )

    def label(self, obj: Any) -> str:
        return patient_label(obj)


class StaffLookup(_Lookup):
    """Staff who may lead the session type chosen on the form (`session_type`, sent by the page's
    script), or any one-to-one type when none is chosen yet."""

    model = User
    source_field_of = (SessionStaff, "user")

    def get_queryset(self) -> QuerySet[Any]:
        wanted = _int(self.request.GET.get("session_type"))
        session_type = one_to_one_types().filter(pk=wanted).first() if wanted is not None else None
        return self.search(leads(session_type))

    def label(self, obj: Any) -> str:
        return staff_label(obj)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- the form ----------------------------------------------------------------------------------


class _LookupWidget:
    """An admin autocomplete (select2) that asks one of the lookups above."""

    def __init__(self, field: Any, admin_site: AdminSite, url_name: str, **kwargs: Any) -> None:
        super().__init__(field, admin_site, **kwargs)  # type: ignore[call-arg]
        self.url_name_full = url_name

    def get_url(self) -> str:
        return reverse(self.url_name_full)


class PatientWidget(_LookupWidget, AutocompleteSelect):
    pass


class StaffWidget(_LookupWidget, AutocompleteSelectMultiple):
    pass


class PatientField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return patient_label(obj)


class StaffField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return staff_label(obj)


class RoomField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.location.name}: {obj.name}{' (telehealth)' if obj.is_virtual else ''}"


class ContactsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_relationship_display().lower()})"


# Where a refusal's `extra.fields` (named as the service's arguments) goes on this form.
_FIELD_OF = {"starts_at": "time", "ends_at": "duration_minutes"}
# A double booking (409) names what clashes in `extra.conflict`, not in `extra.fields`.
_CONFLICT_FIELD = {"room": "room", "staff": "staff", "patient": "patient"}


class AppointmentForm(forms.Form):
    session_type = forms.ModelChoiceField(queryset=SessionType.objects.none(), label="Session type")
    patient = PatientField(queryset=Patient.objects.none())
    staff = StaffField(queryset=User.objects.none(), help_text="Who leads it: one or more.")
    location = forms.ModelChoiceField(queryset=Location.objects.none())
    room = RoomField(
        queryset=Room.objects.none(), required=False, help_text="Needed in person; empty by video or phone."
    )
    date = forms.DateField(widget=AdminDateWidget)
    time = forms.TimeField(widget=AdminTimeWidget, help_text="Wall-clock time at the location, in its time zone.")
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        required=False,
        min_value=5,
        max_value=720,
        help_text="Empty: the session type's usual length.",
    )
    modality = forms.ChoiceField(choices=Modality.choices, initial=Modality.IN_PERSON)
    family_contacts = ContactsField(
        queryset=PatientContact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Family members or support people",
        help_text="For a family session: the patient's contacts taking part (each needs a consent naming them).",
    )

    def __init__(self, *args: Any, user: Any, admin_site: AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visible_patients = scope_to_visible_patients(Patient.objects.all(), user, patient_path="", clinical=False)
        fields = self.fields
        # Widgets first: setting a queryset hands its choices to the field's widget.
        fields["patient"].widget = PatientWidget(
            Booking._meta.get_field("patient"), admin_site, "admin:scheduling_session_schedule_patients"
        )
        fields["staff"].widget = StaffWidget(
            SessionStaff._meta.get_field("user"), admin_site, "admin:scheduling_session_schedule_staff"
        )
        fields["patient"].widget.is_required = fields["staff"].widget.is_required = True
        fields["session_type"].queryset = one_to_one_types()  # type: ignore[attr-defined]
        fields["patient"].queryset = self.visible_patients  # type: ignore[attr-defined]
        fields["staff"].queryset = leads()  # type: ignore[attr-defined]
        fields["location"].queryset = Location.objects.filter(is_active=True)  # type: ignore[attr-defined]
        rooms = Room.objects.filter(is_active=True, location__is_active=True).select_related("location")
        fields["room"].queryset = rooms  # type: ignore[attr-defined]
        # The contacts offered are the chosen patient's (the service refuses anyone else's).
        patient_id = _int(self.data.get("patient") if self.is_bound else self.initial.get("patient"))
        if patient_id is not None:
            contacts = PatientContact.objects.filter(patient_id=patient_id, patient__in=self.visible_patients)
            fields["family_contacts"].queryset = contacts  # type: ignore[attr-defined]

    def default_durations(self) -> dict[str, int]:
        """{session type id: its usual minutes}, for the page's script to show as a placeholder."""
        types = self.fields["session_type"].queryset  # type: ignore[attr-defined]
        return {str(t.pk): t.default_duration_minutes for t in types}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        location, day, at = cleaned.get("location"), cleaned.get("date"), cleaned.get("time")
        if location is not None and day is not None and at is not None:
            starts_at = _local(day, at, location.time_zone)
            if starts_at is None:
                self.add_error(
                    "time", f"There is no {at:%H:%M} on {day:%Y-%m-%d} in {location.time_zone}: the clocks go forward."
                )
            else:
                cleaned["starts_at"] = starts_at
        return cleaned

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        minutes = data.get("duration_minutes")
        return {
            "session_type": data["session_type"],
            "patient": data["patient"],
            "staff": list(data["staff"]),
            "location": data["location"],
            "room": data.get("room"),
            "starts_at": data["starts_at"],
            "ends_at": data["starts_at"] + timedelta(minutes=minutes) if minutes else None,
            "modality": data["modality"],
            "family_contacts": list(data.get("family_contacts") or []),
        }

    def refused(self, error: ApplicationError) -> None:
        """The service's sentence above the form, and its short notes on the fields they name."""
        self.add_error(None, error.message)
        notes = dict(error.extra.get("fields") or {})
        conflict = _CONFLICT_FIELD.get(str(error.extra.get("conflict", "")))
        if conflict is not None and conflict not in notes:
            notes[conflict] = ["Already booked at that time."]
        for name, messages in notes.items():
            name = _FIELD_OF.get(name, name)
            if name in self.fields and name not in self.errors:
                self.add_error(name, [str(message) for message in messages])

    def chosen_patient(self) -> Patient | None:
        """The patient the page shows (prefilled or typed), if the user may see them."""
        value = self.data.get("patient") if self.is_bound else self.initial.get("patient")
        pk = _int(value)
        return self.visible_patients.filter(pk=pk).first() if pk is not None else None


def _local(day: date, at: time, zone: Any) -> datetime | None:
    """`day` at `at` on the location's clocks; None when that wall-clock time does not exist (the
    hour skipped when daylight saving time starts). In the hour repeated when it ends, the first."""
    local = datetime.combine(day, at, tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return local


def initial_from(request: HttpRequest, user: Any) -> dict[str, Any]:
    """Prefill from the query string (?patient=<id>&session_type=<id or code>&date=YYYY-MM-DD), and
    the user's own location."""
    initial: dict[str, Any] = {"modality": Modality.IN_PERSON}
    params = request.GET
    if _int(params.get("patient")) is not None:
        initial["patient"] = _int(params.get("patient"))
    wanted = params.get("session_type", "")
    if wanted:
        found = one_to_one_types().filter(**({"pk": int(wanted)} if wanted.isdigit() else {"code": wanted})).first()
        if found is not None:
            initial["session_type"] = found.pk
    if params.get("date"):
        initial["date"] = params["date"]
    profile = getattr(user, "staff_profile", None)
    if profile is not None and profile.primary_location_id:
        initial["location"] = profile.primary_location_id
    else:
        locations = list(Location.objects.filter(is_active=True).values_list("pk", flat=True)[:2])
        if len(locations) == 1:
            initial["location"] = locations[0]
    return initial


def success_message(booking: Booking) -> str:
    session = booking.session
    zone = session.location.time_zone
    start, end = timezone.localtime(session.starts_at, zone), timezone.localtime(session.ends_at, zone)
    where = f", {session.room.name}" if session.room else f", {session.get_modality_display().lower()}"
    staff = ", ".join(staff_label(s.user) for s in session.staff.select_related("user__staff_profile"))
    return (
        f"Booked: {session.session_type.name} for {patient_label(booking.patient)}, "
        f"{start:%a %d %b %Y %H:%M}-{end:%H:%M} ({zone}){where}, with {staff}."
    )


def audit_shown_patient(request: HttpRequest, patient: Patient | None) -> None:
    """The form names a patient (prefilled from their page, or re-shown after a refusal): a read."""
    if patient is not None:
        audit_record(
            audit_target_for(patient, patient_path=""),
            action=AuditAction.READ,
            actor=request.user,
            request=request,
            via="admin",
        )
