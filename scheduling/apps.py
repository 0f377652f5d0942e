from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from clinic.apps import DomainAppConfig, Writer

_SCHEDULE_READ = ["view_sessiontype", "view_grouptrack", "view_session", "view_booking", "view_trackenrollment"]
_SCHEDULE_WRITE = [
    "change_booking",
    "add_booking",
    "add_session",
    "change_session",
    "add_trackenrollment",
    "change_trackenrollment",
]
_TRACKS = ["add_grouptrack", "change_grouptrack", "change_sessiontype"]
# Reminders: the desk works the staff queue and patients' opt-outs; administrators set the policy.
_REMINDERS = ["view_reminder", "view_stafftask", "change_stafftask", "view_optout", "add_optout", "change_optout"]
_REMINDERS += ["view_inboundmessage"]
_POLICY = ["view_reminderpolicy", "change_reminderpolicy"]


class SchedulingConfig(DomainAppConfig):
    default = True
    name = "scheduling"
    verbose_name = "Scheduling"
    # Scheduling is front-office work too (DESIGN.md roles): the desk books; clinical staff
    # book, take attendance and confirm level-change reviews.
    role_permissions = {
        "clinic_admin": [*_SCHEDULE_READ, *_SCHEDULE_WRITE, *_TRACKS, "view_levelchangereview", *_REMINDERS, *_POLICY],
        "admissions": [*_SCHEDULE_READ, *_SCHEDULE_WRITE, *_REMINDERS],
        "billing": _SCHEDULE_READ,
        "clinician": [*_SCHEDULE_READ, *_SCHEDULE_WRITE, "view_levelchangereview"],
        "prescriber": [*_SCHEDULE_READ, *_SCHEDULE_WRITE, "view_levelchangereview"],
        "nurse": [*_SCHEDULE_READ, *_SCHEDULE_WRITE],
    }

    def seed_demo(self, out: Writer) -> None:
        from scheduling.demo import seed_tracks

        seed_tracks(out)

    def ready(self) -> None:
        super().ready()
        post_migrate.connect(_seed_session_types, sender=self, dispatch_uid="scheduling.seed_session_types")
        from scheduling import receivers  # noqa: F401  (connects to patients' signals)


def _seed_session_types(sender: AppConfig, **kwargs: Any) -> None:
    from scheduling.models import SessionType
    from scheduling.session_types import seed_session_types

    seed_session_types(SessionType, using=kwargs.get("using", "default"))
