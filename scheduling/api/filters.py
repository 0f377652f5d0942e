from uuid import UUID

import django_filters
from django.db.models import QuerySet

from clinic.api.filters import FilterSet, StrictBooleanFilter
from scheduling.models import Booking, OptOut, Session, StaffTask


class _RangeFilterSet(FilterSet):
    """`start` and `end`: rows overlapping [start, end) (a calendar's range)."""

    start = django_filters.IsoDateTimeFilter(
        method="filter_start", help_text="ISO 8601, e.g. 2026-11-23T00:00:00-05:00"
    )
    end = django_filters.IsoDateTimeFilter(method="filter_end", help_text="ISO 8601; exclusive.")

    def filter_start(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset.filter(ends_at__gt=value)

    def filter_end(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset.filter(starts_at__lt=value)


class SessionFilter(_RangeFilterSet):
    """The session list's parameters, declared and checked here (and so in the schema). The
    list applies them in its own SQL (`scheduling.selectors.session_rows`, the week view being
    the busiest read there is); a single session's endpoints through this filter set, as DRF
    filters every lookup, so the two must mean the same (tests/scheduling/test_session_list.py)."""

    staff = django_filters.UUIDFilter(method="filter_staff", help_text="Staff id: their schedule.")
    location = django_filters.UUIDFilter(field_name="location__public_id")
    room = django_filters.UUIDFilter(field_name="room__public_id")
    track = django_filters.UUIDFilter(field_name="track__public_id")
    session_type = django_filters.CharFilter(field_name="session_type__code")

    class Meta:
        model = Session
        fields = ["staff", "location", "room", "track", "session_type", "status", "start", "end"]

    def filter_staff(self, queryset: QuerySet, name: str, value: UUID) -> QuerySet:
        return queryset.filter(staff__user__staff_profile__public_id=value).distinct()


class BookingFilter(_RangeFilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id: their schedule.")
    session = django_filters.UUIDFilter(field_name="session__public_id", help_text="Session id: its roster.")

    class Meta:
        model = Booking
        fields = ["patient", "session", "status", "attendance", "start", "end"]


class StaffTaskFilter(FilterSet):
    open = StrictBooleanFilter(field_name="done_at", lookup_expr="isnull", help_text="true: still to do; false: done.")
    patient = django_filters.UUIDFilter(field_name="patient__public_id")

    class Meta:
        model = StaffTask
        fields = ["open", "kind", "patient"]


class OptOutFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")

    class Meta:
        model = OptOut
        fields = ["patient", "channel", "opted_out"]
