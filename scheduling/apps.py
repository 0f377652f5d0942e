from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.http import HttpRequest

from clinic.apps import DomainAppConfig, Writer

if TYPE_CHECKING:
    from clinic.desk import DeskPanel

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

    def desk_panels(self, request: HttpRequest) -> list[DeskPanel]:
        from django.urls import reverse
        from django.utils import timezone

        from clinic.desk import DeskPanel
        from patients.access import scope_to_visible_patients
        from scheduling import selectors
        from scheduling.hours import Week
        from scheduling.models import Session, SessionType, StaffTask, StaffTaskKind, WeeklyHours
        from scheduling.session_types import INTAKE

        user, panels = request.user, []
        if user.has_perm("scheduling.view_session"):
            intake = SessionType.objects.filter(code=INTAKE).first()
            today = Session.objects.filter(
                session_type=intake, status="scheduled", starts_at__date=timezone.localdate()
            ).count()
            url = (
                reverse("admin:scheduling_session_changelist")
                + f"?day=today&session_type__id__exact={getattr(intake, 'pk', '')}"
            )
            panels.append(DeskPanel("Today's intakes", today, url, "intake assessments scheduled today", order=10))
        if user.has_perm("scheduling.view_stafftask"):
            tasks = scope_to_visible_patients(
                StaffTask.objects.filter(kind=StaffTaskKind.REMINDER_FAILED, done_at__isnull=True),
                user,
                patient_path="patient",
                clinical=False,
            )
            url = (
                reverse("admin:scheduling_stafftask_changelist")
                + f"?state=open&kind__exact={StaffTaskKind.REMINDER_FAILED}"
            )
            panels.append(
                DeskPanel("Failed reminders", tasks.count(), url, "reminders that could not be sent", order=50)
            )
        if user.has_perm("scheduling.view_booking"):
            patients = scope_to_visible_patients(WeeklyHours.objects.all(), user, patient_path="", clinical=False)
            under = selectors.patients_under_band(patients, Week.of(timezone.localdate())).count()
            url = reverse("admin:scheduling_weeklyhours_changelist") + "?band=under"
            panels.append(
                DeskPanel(
                    "Under their program hours", under, url, "this week, heading under their level's band", order=60
                )
            )
        return panels


def _seed_session_types(sender: AppConfig, **kwargs: Any) -> None:
    from scheduling.models import SessionType
    from scheduling.session_types import seed_session_types

    seed_session_types(SessionType, using=kwargs.get("using", "default"))
