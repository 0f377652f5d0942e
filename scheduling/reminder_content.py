"""What a reminder may say (pure: no Django, no database).

A reminder is read on a lock screen or a shared inbox, so it must not reveal treatment for a
substance use disorder (42 CFR Part 2; clinical.md § 6.5): no program or level-of-care
name, no medication, no diagnosis, no "recovery", a neutral sender. Patient data never goes
into the text either: a template may use only the placeholders below, none of which is
about the patient.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

from tapers.equivalence import DRUGS

# The only values a template can show: who sends it, when, and the desk's number.
PLACEHOLDERS = frozenset({"sender", "date", "time", "phone"})

# Words that would say what kind of care this is (clinical.md § 6.5: no program or level of
# care, no medication, no diagnosis, no "recovery"). Medication names come from the
# equivalence table (generic and brand), so a drug added there is refused here too.
REVEALING_WORDS = frozenset(
    {
        "addiction", "addict", "alcohol", "alcoholism", "benzo", "benzodiazepine", "benzodiazepines",
        "detox", "detoxification", "diagnosis", "dependence", "drug", "drugs", "iop", "php",
        "intensive outpatient", "partial hospitalization", "outpatient program", "methadone",
        "buprenorphine", "suboxone", "naloxone", "narcan", "opioid", "opioids", "overdose",
        "psychiatric", "psychiatry", "psychiatrist", "recovery", "rehab", "rehabilitation", "relapse",
        "sober", "sobriety", "substance", "substance use", "sud", "taper", "tapering", "therapy",
        "therapist", "treatment", "withdrawal", "mental health", "behavioral health", "counseling",
        "group session", "aa", "na",
    }
    | {name.lower() for name in DRUGS}
    | {brand.lower() for facts in DRUGS.values() for brand in facts.brands}
)  # fmt: skip

# The longest a date and a time render to in the languages we format for (en, es), for
# checking a template's length before it is used.
LONGEST_VALUES = {"date": "30 de septiembre de 2026", "time": "12:30 p.m."}

SMS_MAX_CHARACTERS = 160  # one GSM-7 segment; the FCC 2015 exemption's limit (clinical.md § 8.2)


def placeholders_in(template: str) -> list[str]:
    """The placeholder names a str.format template uses; ValueError if it does not parse."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def revealing_words_in(text: str, extra: Iterable[str] = ()) -> list[str]:
    words = REVEALING_WORDS | {word.lower().strip() for word in extra if word.strip()}
    lowered = text.lower()
    return sorted(word for word in words if re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", lowered))


def template_problems(template: str, *, extra_words: Iterable[str] = ()) -> list[str]:
    """Why a template may not be used, in words staff can act on; empty when it may."""
    try:
        names = placeholders_in(template)
    except ValueError:
        return ["The template does not parse: braces must pair, as in {date}."]
    problems = []
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        problems.append(
            f"Unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}: a reminder may show only "
            f"{', '.join('{' + n + '}' for n in sorted(PLACEHOLDERS))}, never anything about the patient."
        )
    revealing = revealing_words_in(template, extra_words)
    if revealing:
        problems.append(
            f"The words {', '.join(repr(w) for w in revealing)} would reveal the kind of care to anyone who "
            "sees the message (42 CFR Part 2); use neutral wording."
        )
    return problems


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders filled (only PLACEHOLDERS are ever given)."""
    return template.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
