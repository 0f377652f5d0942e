"""Reads for the clinic app; each returns an N+1-safe queryset."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Q, QuerySet

from clinic.models import LevelOfCare, Location, Room, StaffProfile


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


def room_list() -> QuerySet[Room]:
    return Room.objects.select_related("location")


def staff_list() -> QuerySet[StaffProfile]:
    return StaffProfile.objects.select_related("user", "primary_location").prefetch_related("user__groups")


def level_of_care_list() -> QuerySet[LevelOfCare]:
    return LevelOfCare.objects.all()


def locations_with_expiring_credentials(*, today: date, within_days: int) -> QuerySet[Location]:
    horizon = today + timedelta(days=within_days)
    return Location.objects.filter(is_active=True).filter(
        Q(state_license_expires__lte=horizon) | Q(accreditation_expires__lte=horizon)
    )


def staff_with_expiring_licences(*, today: date, within_days: int) -> QuerySet[StaffProfile]:
    horizon = today + timedelta(days=within_days)
    return StaffProfile.objects.select_related("user").filter(user__is_active=True, license_expires__lte=horizon)
