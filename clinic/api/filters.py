import django_filters

from clinic.models import Room, StaffProfile


class RoomFilter(django_filters.FilterSet):
    location = django_filters.UUIDFilter(field_name="location__public_id", help_text="Location id.")

    class Meta:
        model = Room
        fields = ["location", "is_virtual", "is_active"]


class StaffFilter(django_filters.FilterSet):
    role = django_filters.CharFilter(field_name="user__groups__name", help_text="Role name, e.g. prescriber.")
    location = django_filters.UUIDFilter(field_name="primary_location__public_id")

    class Meta:
        model = StaffProfile
        fields = ["role", "location"]
