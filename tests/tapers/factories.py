"""Factories for the tapers catalogue; each area keeps its own factories next to its tests."""

import factory

from tapers.models import Medication, MedicationStrength, Pharmacy, Prescriber


class MedicationFactory(factory.django.DjangoModelFactory[Medication]):
    class Meta:
        model = Medication
        django_get_or_create = ("generic_name",)

    generic_name = "diazepam"
    drug_class = "benzodiazepine"


class MedicationStrengthFactory(factory.django.DjangoModelFactory[MedicationStrength]):
    class Meta:
        model = MedicationStrength

    medication = factory.SubFactory(MedicationFactory)
    form = "tablet"
    strength_mg = factory.Iterator(["2", "5", "10"])


class PrescriberFactory(factory.django.DjangoModelFactory[Prescriber]):
    class Meta:
        model = Prescriber

    name = factory.Sequence(lambda n: f"Dr Outside {n}")
    credentials = "MD"
    practice = factory.Sequence(lambda n: f"Practice {n}")


class PharmacyFactory(factory.django.DjangoModelFactory[Pharmacy]):
    class Meta:
        model = Pharmacy

    name = factory.Sequence(lambda n: f"Pharmacy {n}")
