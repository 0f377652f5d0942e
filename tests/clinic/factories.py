from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from clinic.models import Location, Room, StaffProfile

User = get_user_model()

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):  # type: ignore[valid-type]
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(user: Any, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create and extracted:
            user.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            user.save()


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Office {n}")
    address_line1 = "1 Elm Street"
    city = "Springfield"
    state = "MA"
    postal_code = "01103"
    time_zone = ZoneInfo("America/New_York")
    state_license_number = factory.Sequence(lambda n: f"LIC-{n}")
    state_license_expires = date(2030, 1, 1)


class RoomFactory(factory.django.DjangoModelFactory[Room]):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 10


class StaffProfileFactory(factory.django.DjangoModelFactory[StaffProfile]):
    class Meta:
        model = StaffProfile

    user = factory.SubFactory(UserFactory)
    credentials = "LCSW"
    primary_location = factory.SubFactory(LocationFactory)
