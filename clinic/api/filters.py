from typing import Any

import django_filters
from django import forms
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

    _form_class: type[forms.Form]

    @classmethod
    def form_class(cls) -> type[forms.Form]:
        """The form that reads and checks this filter set's parameters, built once per class.
        django-filter builds it again on every request, with a deep copy of every filter; no
        filter here takes anything from the request (no request-dependent querysets)."""
        if "_form_class" not in cls.__dict__:
            cls._form_class = super(FilterSet, cls()).get_form_class()
        return cls._form_class

    def get_form_class(self) -> type[forms.Form]:
        return type(self).form_class()

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):  # type: ignore[no-untyped-def]
        filter_class, params = super().filter_for_lookup(field, lookup_type)
        if filter_class is django_filters.BooleanFilter:
            return StrictBooleanFilter, params
        return filter_class, params


# filterset_fields classes, per view class and model (both fixed when the code is loaded).
_GENERATED: dict[tuple[type, type], Any] = {}


class FilterBackend(DjangoFilterBackend):
    """DRF's django-filter backend, building `filterset_fields` on the project's FilterSet."""

    filterset_base = FilterSet

    def get_filterset_class(self, view: Any, queryset: QuerySet[Any] | None = None) -> Any:
        """django-filter's, except that a view's `filterset_fields` class is generated once,
        not on every request (so its form is built once too)."""
        if getattr(view, "filterset_class", None) or queryset is None:
            return super().get_filterset_class(view, queryset)
        key = (type(view), queryset.model)
        if key not in _GENERATED:
            _GENERATED[key] = super().get_filterset_class(view, queryset)
        return _GENERATED[key]

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        """django-filter's own, except that a request naming none of the filters gets the
        queryset as it is, without building a filter set (a deep copy of every filter) to
        filter by nothing: absent parameters filter nothing, and none here is required."""
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or request.query_params.keys().isdisjoint(filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def cleaned_filters(self, request: Any, queryset: QuerySet[Any], view: Any) -> dict[str, Any]:
        """The view's filters read and checked (a 400 naming each bad one, as for a filtered
        queryset), for a list that applies them in its own SQL (`clinic.db.PreparedPage`)."""
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return {}
        # The form alone: a filter set instance would deep-copy every filter to apply none.
        form = filterset_class.form_class()(request.query_params)
        if not form.is_valid():
            raise translate_validation(form.errors)
        return dict(form.cleaned_data)


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
