"""The patients admin, one module per area (imported so Django registers them): the patient page
and admission; consents and disclosures; episodes of care and the change of level; referrals;
intake assessments. Apps built on patients add inlines to the patient page through
PATIENT_EXTRA_INLINES."""

from patients.admin import consents, episodes, intake, referrals  # noqa: F401
from patients.admin.patient import PATIENT_EXTRA_INLINES

__all__ = ["PATIENT_EXTRA_INLINES"]
