from django.db.models import QuerySet

from patients.models import CareTeamMember, Patient


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.prefetch_related("contacts")


def care_team_member_list() -> QuerySet[CareTeamMember]:
    return CareTeamMember.objects.select_related("patient", "member__staff_profile")
