from datetime import date
from zoneinfo import ZoneInfo

import factory

from patients.models import CareTeamMember, Patient
from patients.services import patient_create


class PatientFactory(factory.Factory[Patient]):
    """Builds through patient_create so MRNs come from the real sequence."""

    class Meta:
        model = Patient

    legal_first_name = factory.Sequence(lambda n: f"Given{n}")
    legal_last_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = date(1980, 5, 17)
    time_zone = ZoneInfo("America/New_York")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return patient_create(**kwargs)


def put_on_care_team(patient: Patient, user, team_role: str = "other") -> CareTeamMember:
    return CareTeamMember.objects.create(patient=patient, member=user, team_role=team_role, started_on=date(2026, 1, 1))
