import django_filters

from clinic.models import Room, StaffProfile


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true or false; anything else is a 400 naming the field (django-filter ignores it)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class RoomFilter(django_filters.FilterSet):
    location = django_filters.UUIDFilter(field_name="location__public_id", help_text="Location id.")
    is_virtual = StrictBooleanFilter()
    is_active = StrictBooleanFilter()

    class Meta:
        model = Room
        fields = ["location", "is_virtual", "is_active"]


class StaffFilter(django_filters.FilterSet):
    role = django_filters.CharFilter(field_name="user__groups__name", help_text="Role name, e.g. prescriber.")
    location = django_filters.UUIDFilter(field_name="primary_location__public_id")

    class Meta:
        model = StaffProfile
        fields = ["role", "location"]
