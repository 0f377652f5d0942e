from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models.signals import post_migrate

from clinic.apps import DomainAppConfig

# The catalogue and the directory of prescribers and pharmacies hold no patient data: every
# clinical role reads them; prescribers keep the catalogue; clinical staff keep the directory,
# as the API lets them (tapers.api.ledger).
_CATALOGUE_READ = ["view_medication", "view_medicationstrength", "view_prescriber", "view_pharmacy"]
_CATALOGUE_WRITE = [f"{verb}_{model}" for model in ("medication", "medicationstrength") for verb in ("add", "change")]
_DIRECTORY_WRITE = [f"{verb}_{model}" for model in ("prescriber", "pharmacy") for verb in ("add", "change")]
# Clinical records, read-only in the admin (writes go through the API's services). The admin
# classes also check the role and the care team (tapers/admin), so a front-office user given
# one of these by hand still sees nothing.
_CLINICAL_READ = [
    f"view_{model}"
    for model in (
        "prescription",
        "pdmpimport",
        "pdmpcheck",
        "riskflag",
        "taperplan",
        "taperplanversion",
        "taperstep",
        "planhold",
        "withdrawalcheck",
        "prescriberofrecord",
        "communication",
    )
]


class TapersConfig(DomainAppConfig):
    default = True
    name = "tapers"
    verbose_name = "Tapers"
    # DESIGN.md roles: admissions and billing never see taper plans, withdrawal scores or
    # prescriptions; the clinic administrator keeps the catalogue but reads no clinical record.
    role_permissions = {
        "clinic_admin": [*_CATALOGUE_READ, *_CATALOGUE_WRITE, *_DIRECTORY_WRITE],
        "clinician": [*_CATALOGUE_READ, *_DIRECTORY_WRITE, *_CLINICAL_READ],
        "prescriber": [*_CATALOGUE_READ, *_CATALOGUE_WRITE, *_DIRECTORY_WRITE, *_CLINICAL_READ],
        "nurse": [*_CATALOGUE_READ, *_DIRECTORY_WRITE, *_CLINICAL_READ],
    }

    def ready(self) -> None:
        super().ready()
        from tapers.services.ledger_catalogue import seed_catalogue_after_migrate

        # The seeded catalogue comes back after a flush (tests that truncate every table), as
        # clinic's levels of care do.
        post_migrate.connect(seed_catalogue_after_migrate, sender=self, dispatch_uid="tapers.seed_catalogue")

    def owed_work(self, before: datetime) -> list[tuple[Any, Iterable[int]]]:
        from tapers.services.checks import withdrawal_checks_owed_alert
        from tapers.services.coordination import communications_owed_send
        from tapers.tasks.coordination import send_communication
        from tapers.tasks.plans import alert_care_team

        # The care team's alert of a held check is the one that matters clinically.
        return [
            (alert_care_team, withdrawal_checks_owed_alert(before)),
            (send_communication, communications_owed_send(before)),
        ]
