"""The medication catalogue's seed data (no Django imports: migration 0002 passes its
historical models in, as clinic.levels does for levels of care).

- Every drug of tapers.equivalence.DRUGS (Ashton's table), with its brands and class; the
  diazepam equivalents stay in tapers.equivalence and are never copied here.
- Half-life group, derived from Ashton's half-lives (`half_life_group`): the longest-lived
  active species counts (the active metabolite where Ashton gives one in brackets, else the
  parent drug), at the midpoint of its range: under 12 h short, 12-24 h intermediate, over
  24 h long. This gives the usual clinical grouping: alprazolam, oxazepam, triazolam and the
  z-drugs short; lorazepam, temazepam, estazolam intermediate; clonazepam, diazepam,
  chlordiazepoxide long.
- The controlled opioids and stimulants a PDMP report lists most (US generic names and
  brands), so an imported row finds its class; no half-life group (Ashton gives none).
- US strengths and forms of the benzodiazepines the clinic tapers most (FDA labels).

Rows are only created when missing, never overwritten: the catalogue is editable in the admin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps

from tapers.equivalence import DRUGS

SHORT, INTERMEDIATE, LONG = "short", "intermediate", "long"


def half_life_group(half_life_h: tuple[int, int] | None, metabolite_half_life_h: tuple[int, int] | None) -> str:
    """Ashton's half-lives (hours) to a group; "" when she gives none."""
    hours = metabolite_half_life_h or half_life_h
    if hours is None:
        return ""
    midpoint = Decimal(hours[0] + hours[1]) / 2
    if midpoint < 12:
        return SHORT
    if midpoint <= 24:
        return INTERMEDIATE
    return LONG


# generic: (brands, class)
OTHER_CONTROLLED: dict[str, tuple[tuple[str, ...], str]] = {
    "oxycodone": (("OxyContin", "Roxicodone", "Oxaydo", "Xtampza ER", "Percocet", "Endocet"), "opioid"),
    "hydrocodone": (("Hysingla ER", "Zohydro ER", "Norco", "Vicodin", "Lortab"), "opioid"),
    "morphine": (("MS Contin", "Kadian"), "opioid"),
    "hydromorphone": (("Dilaudid", "Exalgo"), "opioid"),
    "oxymorphone": (("Opana",), "opioid"),
    "tapentadol": (("Nucynta",), "opioid"),
    "tramadol": (("Ultram", "ConZip"), "opioid"),
    "codeine": ((), "opioid"),
    "methadone": (("Dolophine", "Methadose"), "opioid"),
    "buprenorphine": (("Subutex", "Suboxone", "Zubsolv", "Sublocade", "Butrans", "Belbuca"), "opioid"),
    "fentanyl": (("Duragesic", "Actiq", "Fentora"), "opioid"),
    "amphetamine": (("Adderall", "Mydayis", "Evekeo", "Adzenys XR-ODT", "Dyanavel XR"), "stimulant"),
    "dextroamphetamine": (("Dexedrine", "Zenzedi", "ProCentra"), "stimulant"),
    "lisdexamfetamine": (("Vyvanse",), "stimulant"),
    "methylphenidate": (("Ritalin", "Concerta", "Methylin", "Daytrana", "Jornay PM"), "stimulant"),
    "dexmethylphenidate": (("Focalin",), "stimulant"),
    # Wakefulness agents (schedule IV), not amphetamine-like stimulants: "other", which the
    # risk rules do not count unless the clinic adds the class.
    "modafinil": (("Provigil",), "other"),
    "armodafinil": (("Nuvigil",), "other"),
}

# generic: [(form, strength mg (per ml for a liquid), scored)]
STRENGTHS: dict[str, list[tuple[str, str, bool]]] = {
    "diazepam": [("tablet", "2", True), ("tablet", "5", True), ("tablet", "10", True), ("oral_liquid", "1", False)],
    "alprazolam": [("tablet", s, True) for s in ("0.25", "0.5", "1", "2")],
    "clonazepam": [
        *[("tablet", s, True) for s in ("0.5", "1", "2")],
        *[("odt", s, False) for s in ("0.125", "0.25", "0.5", "1", "2")],
    ],
    # Lorazepam oral concentrate is 2 mg/ml.
    "lorazepam": [*[("tablet", s, True) for s in ("0.5", "1", "2")], ("oral_liquid", "2", False)],
    "temazepam": [("capsule", s, False) for s in ("7.5", "15", "22.5", "30")],
    "chlordiazepoxide": [("capsule", s, False) for s in ("5", "10", "25")],
    "oxazepam": [("capsule", s, False) for s in ("10", "15", "30")],
    "zolpidem": [
        ("tablet", "5", False),
        ("tablet", "10", False),
        ("er_tablet", "6.25", False),
        ("er_tablet", "12.5", False),
    ],
}


def catalogue_rows() -> list[tuple[str, list[str], str, str]]:
    """(generic, brands, class, half-life group) for every drug the catalogue starts with."""
    rows = [
        (
            facts.generic,
            list(facts.brands),
            facts.drug_class,
            half_life_group(facts.half_life_h, facts.metabolite_half_life_h),
        )
        for facts in DRUGS.values()
    ]
    rows += [(generic, list(brands), drug_class, "") for generic, (brands, drug_class) in OTHER_CONTROLLED.items()]
    return rows


def seed_catalogue(medication_model: Any, strength_model: Any, using: str = "default") -> None:
    for generic, brands, drug_class, group in catalogue_rows():
        medication, _ = medication_model.objects.using(using).get_or_create(
            generic_name=generic,
            defaults={"brand_names": brands, "drug_class": drug_class, "half_life_group": group},
        )
        for form, strength, scored in STRENGTHS.get(generic, []):
            strength_model.objects.using(using).get_or_create(
                medication=medication, form=form, strength_mg=Decimal(strength), defaults={"scored": scored}
            )


def seed_catalogue_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate receiver: the catalogue comes back after a flush (tests that truncate every
    table), as clinic's levels of care do. Only when tapers is migrated, with the migrated state."""
    if getattr(sender, "label", None) != "tapers":
        return
    # migrate sends the migrated state; flush sends none, and its tables are the current models'.
    # (Without this the catalogue never came back after a flush: tests that ran after a
    # transactional test on the same database, as pytest-xdist orders them, found it empty.)
    state = kwargs.get("apps") or django_apps
    try:
        medication = state.get_model("tapers", "Medication")
        strength = state.get_model("tapers", "MedicationStrength")
    except LookupError:  # migrated back before the catalogue
        return
    seed_catalogue(medication, strength, using=kwargs.get("using", "default"))
