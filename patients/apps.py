from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from clinic.apps import DomainAppConfig, Writer

if TYPE_CHECKING:
    from clinic.desk import DeskPanel

_CONSENTS = ["view_consent", "view_disclosure"]
_REFERRALS = ["view_referral", "add_referral", "change_referral"]
_EPISODES = ["view_episodeofcare", "change_episodeofcare", "view_levelofcarestay"]
_INTAKE = [
    f"{verb}_{model}"
    for model in ("intakeassessment", "intakebenzodiazepine", "intakesubstance", "intakeprescriber")
    for verb in ("view", "add")
]
_CLINICAL = ["view_patient", "view_patientcontact", "view_careteammember", *_EPISODES, *_CONSENTS, *_INTAKE]
_MANAGE_CONTACTS = ["view_patientcontact", "add_patientcontact", "change_patientcontact", "delete_patientcontact"]
_MANAGE_TEAM = ["view_careteammember", "add_careteammember", "change_careteammember"]


class PatientsConfig(DomainAppConfig):
    default = True
    name = "patients"
    verbose_name = "Patients"
    role_permissions = {
        "clinic_admin": [
            "view_patient",
            "add_patient",
            "change_patient",
            "view_breakglassgrant",
            *_MANAGE_TEAM,
            *_MANAGE_CONTACTS,
            *_EPISODES,
            *_CONSENTS,
            *_REFERRALS,
        ],
        "admissions": [
            "view_patient",
            "add_patient",
            "change_patient",
            *_MANAGE_TEAM,
            *_MANAGE_CONTACTS,
            *_EPISODES,
            *_CONSENTS,
            *_REFERRALS,
        ],
        "billing": ["view_patient", "view_careteammember", "view_episodeofcare", "view_levelofcarestay", *_CONSENTS],
        "clinician": _CLINICAL,
        "prescriber": _CLINICAL,
        "nurse": _CLINICAL,
    }

    def seed_demo(self, out: Writer) -> None:
        from patients.demo import seed_patients

        seed_patients(out)

    def desk_panels(self, request: HttpRequest) -> list[DeskPanel]:
        from django.urls import reverse

        from clinic.desk import DeskPanel
        from patients.models import Referral, ReferralStatus

        if not request.user.has_perm("patients.view_referral"):
            return []
        waiting = [ReferralStatus.NEW, ReferralStatus.CONTACTED]
        url = reverse("admin:patients_referral_changelist") + "?status__in=" + ",".join(waiting)
        count = Referral.objects.filter(status__in=waiting).count()
        return [DeskPanel("Referrals waiting", count, url, "new or contacted, not yet a patient", order=20)]
