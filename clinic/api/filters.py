from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation

from clinic.models import Room, StaffProfile


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true or false; anything else is a 400 naming the field (django-filter ignores it)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class FilterSet(django_filters.FilterSet):
    """The project's filter sets, declared and generated from `filterset_fields` alike: a
    true/false filter (a boolean field, an `isnull` lookup) takes true or false and answers
    anything else with a 400, where django-filter's own read "0.05" or "null" as no filter and
    listed everything."""

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):  # type: ignore[no-untyped-def]
        filter_class, params = super().filter_for_lookup(field, lookup_type)
        if filter_class is django_filters.BooleanFilter:
            return StrictBooleanFilter, params
        return filter_class, params


class FilterBackend(DjangoFilterBackend):
    """DRF's django-filter backend, building `filterset_fields` on the project's FilterSet."""

    filterset_base = FilterSet

    def cleaned_filters(self, request: Any, queryset: QuerySet[Any], view: Any) -> dict[str, Any]:
        """The view's filters read and checked (a 400 naming each bad one, as for a filtered
        queryset), for a list that applies them in its own SQL (`clinic.db.PreparedPage`)."""
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return {}
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return dict(filterset.form.cleaned_data)


class RoomFilter(FilterSet):
    location = django_filters.UUIDFilter(field_name="location__public_id", help_text="Location id.")
    is_virtual = StrictBooleanFilter()
    is_active = StrictBooleanFilter()

    class Meta:
        model = Room
        fields = ["location", "is_virtual", "is_active"]


class StaffFilter(FilterSet):
    role = django_filters.CharFilter(field_name="user__groups__name", help_text="Role name, e.g. prescriber.")
    location = django_filters.UUIDFilter(field_name="primary_location__public_id")

    class Meta:
        model = StaffProfile
        fields = ["role", "location"]
