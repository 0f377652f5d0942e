"""An eligibility check's answer as staff read it: the summary per level of care as a small
table, and the rejections a parsed 271 carries."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.html import format_html, format_html_join

from clinic.models import LevelOfCare
from insurance.services.eligibility import LEVELS


def _money(value: Any) -> str:
    return "—" if value in (None, "") else f"${Decimal(value):,.2f}"


def _yes_no(value: bool | None) -> str:
    return {True: "Yes", False: "No"}.get(value, "—")  # type: ignore[arg-type]


def _percent(fraction: Any) -> str:
    # A 271's EB08 (and the summary) is a fraction: 0.2 is 20 %.
    return "—" if fraction in (None, "") else f"{(Decimal(fraction) * 100).normalize():f} %"


def _copay(level: dict[str, Any]) -> str:
    if level.get("copay") in (None, ""):
        return "—"
    period = level.get("copay_period") or ""
    return _money(level["copay"]) + (
        f" per {period}" if period in ("visit", "day") else f" ({period})" if period else ""
    )


def _visit_limit(level: dict[str, Any]) -> str:
    if level.get("visit_limit") in (None, ""):
        return "—"
    text = f"{Decimal(level['visit_limit']).normalize():f} {level.get('visit_limit_unit') or ''}".strip()
    if level.get("visit_limit_remaining") not in (None, ""):
        text += f" ({Decimal(level['visit_limit_remaining']).normalize():f} left)"
    return text


def _estimate(level: dict[str, Any]) -> str:
    estimate = level.get("estimate")
    if not estimate:
        return "—"
    return f"{_money(estimate['per_unit'])} / {_money(estimate['per_week'])} ({estimate['units_per_week']} a week)"


BENEFIT_COLUMNS = (
    "Level",
    "Active",
    "Co-pay",
    "Co-insurance",
    "Deductible remaining",
    "Out-of-pocket remaining",
    "Visit limit",
    "Authorization required",
    "Patient share per unit / per week (estimate)",
)


def benefits_table(summary: dict[str, Any]) -> str:
    """The summary per level of care as a small table, with the payer's messages and what the
    estimates assumed beneath it, for staff to read to the patient."""
    names = dict(LevelOfCare.objects.filter(code__in=list(summary)).values_list("code", "name"))
    rows = []
    notes: list[tuple[str, str]] = []
    assumptions: list[str] = []
    for code in sorted(summary, key=lambda c: LEVELS.index(c) if c in LEVELS else len(LEVELS)):
        level = summary[code]
        active = "Not covered" if level.get("non_covered") else _yes_no(level.get("active"))
        rows.append(
            (
                names.get(code, code.upper()),
                active,
                _copay(level),
                _percent(level.get("coinsurance")),
                _money(level.get("deductible_remaining")),
                _money(level.get("out_of_pocket_remaining")),
                _visit_limit(level),
                _yes_no(level.get("authorization_required")),
                _estimate(level),
            )
        )
        notes += [(names.get(code, code.upper()), message) for message in level.get("messages") or ()]
        for assumption in (level.get("estimate") or {}).get("assumptions", ()):
            if assumption not in assumptions:
                assumptions.append(assumption)
    table = format_html(
        '<table class="insurance-benefits"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        format_html_join("", "<th>{}</th>", ((column,) for column in BENEFIT_COLUMNS)),
        format_html_join("", "<tr>" + "<td>{}</td>" * len(BENEFIT_COLUMNS) + "</tr>", rows),
    )
    if notes:
        table += format_html("<p>The payer's messages:</p><ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", notes))
    if assumptions:
        table += format_html(
            "<p>The estimates assume:</p><ul>{}</ul>", format_html_join("", "<li>{}</li>", ((a,) for a in assumptions))
        )
    return table


def rejections_in(parsed: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Every AAA of a parsed 271 (EligibilityResponse.to_dict()), outermost loop first."""
    for source in (parsed or {}).get("sources") or ():
        yield from source.get("rejections") or ()
        yield from source.get("receiver_rejections") or ()
        for member in source.get("members") or ():
            yield from member.get("rejections") or ()
            for benefit in member.get("benefits") or ():
                yield from benefit.get("rejections") or ()
