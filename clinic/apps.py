from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate, post_save
from django.http import HttpRequest

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from clinic.desk import DeskPanel


class Writer(Protocol):
    def write(self, text: str) -> Any: ...


class DomainAppConfig(AppConfig):
    """Base for our apps.

    `role_permissions` maps a role to the Django model permissions it gets in the admin
    ("view_room", "change_patient", ...), for this app's models; the groups are kept in
    step after every migrate. `seed_demo` adds the app's share of the demo data.
    """

    # Each apps.py holds this base and its own subclass: Django picks the one marked default.
    default = False
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: dict[str, list[str]] = {}

    def seed_demo(self, out: Writer) -> None:
        """Create this app's demo records; must be safe to run again."""

    def desk_panels(self, request: HttpRequest) -> list[DeskPanel]:
        """This app's counts on the desk's start page, for the user asking (clinic.desk)."""
        return []

    def owed_work(self, before: datetime) -> list[tuple[Any, Iterable[int]]]:
        """(task, ids of rows still owed it since before `before`): work a request recorded but
        could not enqueue, which clinic.queueing.requeue_owed_work enqueues again."""
        return []


class ClinicAdminConfig(admin_apps.AdminConfig):
    """The admin, with the desk's start page as its index (clinic.admin_site)."""

    # Named in INSTALLED_APPS; not this module's default (that is ClinicConfig).
    default = False
    default_site = "clinic.admin_site.DeskAdminSite"


class ClinicConfig(DomainAppConfig):
    default = True
    name = "clinic"
    verbose_name = "Clinic"
    role_permissions = {
        "clinic_admin": [
            "view_location",
            "add_location",
            "change_location",
            "view_room",
            "add_room",
            "change_room",
            "view_staffprofile",
            "add_staffprofile",
            "change_staffprofile",
            "view_levelofcare",
            "change_levelofcare",
            "view_auditevent",
        ],
        "admissions": ["view_location", "view_room", "view_staffprofile", "view_levelofcare"],
        "clinician": ["view_location", "view_room", "view_staffprofile", "view_levelofcare"],
        "prescriber": ["view_location", "view_room", "view_staffprofile", "view_levelofcare"],
        "nurse": ["view_location", "view_room", "view_staffprofile", "view_levelofcare"],
        "billing": ["view_location", "view_staffprofile", "view_levelofcare"],
    }

    def seed_demo(self, out: Writer) -> None:
        from clinic.demo import seed_clinic

        seed_clinic(out)

    def ready(self) -> None:
        from django.conf import settings

        from clinic.security import revoke_api_tokens

        post_migrate.connect(sync_role_groups, dispatch_uid="clinic.sync_role_groups")
        post_save.connect(revoke_api_tokens, sender=settings.AUTH_USER_MODEL, dispatch_uid="clinic.revoke_api_tokens")


def domain_app_configs() -> list[DomainAppConfig]:
    return [config for config in apps.get_app_configs() if isinstance(config, DomainAppConfig)]


def sync_role_groups(sender: AppConfig, **kwargs: Any) -> None:
    """Create the role groups and grant each its permissions on the app just migrated;
    make sure the reference levels of care exist.

    Runs after auth's own post_migrate handler has created that app's permissions.
    Idempotent; permissions granted by hand are left alone.
    """
    from django.contrib.auth.models import Group, Permission

    from clinic.roles import Role

    using = kwargs.get("using", "default")
    groups = {role.value: Group.objects.using(using).get_or_create(name=role.value)[0] for role in Role}
    if not isinstance(sender, DomainAppConfig):
        return
    if sender.label == "clinic":
        # Reference rows come back after a flush too (tests that truncate every table).
        from clinic.levels import seed_levels_of_care
        from clinic.models import LevelOfCare

        seed_levels_of_care(LevelOfCare, using=using)
    for role, codenames in sender.role_permissions.items():
        permissions = Permission.objects.using(using).filter(
            content_type__app_label=sender.label, codename__in=codenames
        )
        groups[role].permissions.add(*permissions)
