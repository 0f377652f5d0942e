from uuid import UUID

import django_filters
from django.db.models import Q, QuerySet

from clinic.api.filters import FilterSet, StrictBooleanFilter
from patients.models import IntakeAssessment, Patient, PatientStatus
from patients.selectors import patients_at_level


class PatientFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=PatientStatus.choices)
    level_of_care = django_filters.CharFilter(method="filter_level", help_text="Current level code, e.g. iop.")
    primary_clinician = django_filters.UUIDFilter(method="filter_primary", help_text="Staff id.")
    search = django_filters.CharFilter(method="filter_search", help_text="Name, preferred name or MRN.")

    class Meta:
        model = Patient
        fields = ["status", "level_of_care", "primary_clinician", "search"]

    def filter_level(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return patients_at_level(queryset, value)

    def filter_primary(self, queryset: QuerySet[Patient], name: str, value: UUID) -> QuerySet[Patient]:
        return queryset.filter(
            care_team__ended_on__isnull=True,
            care_team__team_role="primary_clinician",
            care_team__member__staff_profile__public_id=value,
        )

    def filter_search(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        words = value.split()
        for word in words[:4]:
            queryset = queryset.filter(
                Q(legal_last_name__icontains=word)
                | Q(legal_first_name__icontains=word)
                | Q(preferred_name__icontains=word)
                | Q(mrn__iexact=word)
            )
        return queryset


class IntakeFilter(FilterSet):
    patient__public_id = django_filters.UUIDFilter(help_text="Patient id.")
    decision = django_filters.ChoiceFilter(choices=[("confirmed", "confirmed"), ("overridden", "overridden")])
    decided = StrictBooleanFilter(method="filter_decided", help_text="false: waiting for a clinician's decision.")

    class Meta:
        model = IntakeAssessment
        fields = ["patient__public_id", "decision", "decided"]

    def filter_decided(
        self, queryset: QuerySet[IntakeAssessment], name: str, value: bool
    ) -> QuerySet[IntakeAssessment]:
        return queryset.exclude(decision="") if value else queryset.filter(decision="")
