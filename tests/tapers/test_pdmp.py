"""The PDMP file parser (pure: no database)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.npi import npi_check_digit
from tapers.pdmp import (
    REQUIRED_COLUMNS,
    PdmpFileError,
    PdmpRow,
    derive_daily_dose,
    parse_pdmp_csv,
    render_pdmp_csv,
    strength_mg,
)

HEADER = ",".join(REQUIRED_COLUMNS)
PRESCRIBER_NPI = "1234567893"  # the CMS worked example, valid check digit
PHARMACY_NPI = "1245319599"


def line(**overrides: str) -> str:
    values = {
        "drug": "ALPRAZOLAM",
        "strength": "1 MG",
        "quantity": "90",
        "days_supply": "30",
        "written_date": "2026-10-01",
        "fill_date": "10/02/2026",
        "prescriber_name": "Jane Roe MD",
        "prescriber_npi": PRESCRIBER_NPI,
        "pharmacy_name": "Main St Pharmacy",
        "pharmacy_npi": PHARMACY_NPI,
        "rx_number": "RX1001",
        **overrides,
    }
    return ",".join(values[column] for column in REQUIRED_COLUMNS)


def test_it_reads_a_row_and_derives_the_daily_dose_when_the_file_has_none():
    [row] = parse_pdmp_csv(f"{HEADER}\n{line()}\n".encode())
    assert (row.line, row.drug, row.quantity, row.days_supply) == (2, "ALPRAZOLAM", Decimal(90), 30)
    assert (row.written_on, row.filled_on) == (date(2026, 10, 1), date(2026, 10, 2))
    assert (row.daily_dose_mg, row.daily_dose_derived) == (Decimal("3.000"), True)
    assert row.natural_key == f"rx|{PHARMACY_NPI}|rx1001|2026-10-02"


def test_a_daily_dose_in_the_file_is_taken_as_given():
    csv = f"{HEADER},daily_dose_mg\n{line()},2.5\n"
    [row] = parse_pdmp_csv(csv)
    assert (row.daily_dose_mg, row.daily_dose_derived) == (Decimal("2.5"), False)


def test_headers_are_read_in_any_order_case_and_spacing_and_a_bom_is_ignored():
    columns = list(reversed(REQUIRED_COLUMNS))
    header = ",".join(c.upper().replace("_", " ") for c in columns)
    values = line().split(",")
    body = ",".join(reversed(values))
    [row] = parse_pdmp_csv(("\ufeff" + f"{header}\r\n{body}\r\n\r\n").encode())
    assert row.drug == "ALPRAZOLAM"


@pytest.mark.parametrize(
    ("strength", "quantity", "days", "expected"),
    [
        ("0.5 mg", "60", 30, Decimal("1.000")),
        ("2MG", "45", 30, Decimal("3.000")),
        ("5 mg/5 ml", "300", 30, Decimal("10.000")),  # a liquid: quantity in ml
        ("2 mg/ml", "30", 30, Decimal("2.000")),
        ("5-325 mg", "120", 30, Decimal("20.000")),  # a combination: the first figure
        ("0.25", "90", 30, Decimal("0.750")),
        ("1 mg", "10", 3, Decimal("3.333")),  # to the microgram, half up
        ("25 mcg/hr", "10", 30, None),  # a patch rate is no strength per unit
        ("see label", "10", 30, None),
    ],
)
def test_it_derives_the_daily_dose_from_quantity_strength_and_days(strength, quantity, days, expected):
    assert derive_daily_dose(Decimal(quantity), strength, days) == expected


def test_a_strength_it_cannot_read_leaves_the_daily_dose_unknown_not_zero():
    [row] = parse_pdmp_csv(f"{HEADER}\n{line(drug='FENTANYL', strength='25 MCG/HR')}\n")
    assert (row.daily_dose_mg, row.daily_dose_derived) == (None, False)
    assert strength_mg("25 MCG/HR") is None


def test_missing_columns_are_named_on_line_one():
    header = HEADER.replace(",rx_number", "").replace("days_supply,", "")
    with pytest.raises(PdmpFileError) as caught:
        parse_pdmp_csv(f"{header}\n")
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, "days_supply"), (1, "rx_number")]
    assert "line 1, column days_supply: this column is missing" in str(caught.value)


@pytest.mark.parametrize(
    ("override", "column", "message"),
    [
        ({"fill_date": "2026-13-01"}, "fill_date", "is not a date"),
        ({"written_date": "01/10/26"}, "written_date", "is not a date"),
        ({"quantity": "ninety"}, "quantity", "is not a number"),
        ({"quantity": "-5"}, "quantity", "of 0 or more"),
        ({"days_supply": "0"}, "days_supply", "at least 1"),
        ({"days_supply": "7.5"}, "days_supply", "whole number"),
        ({"prescriber_npi": "1234567890"}, "prescriber_npi", "not a valid NPI"),
        ({"drug": ""}, "drug", "empty"),
        ({"fill_date": "2026-09-30"}, "fill_date", "before it was written"),
    ],
)
def test_a_bad_value_is_reported_with_its_line_and_column(override, column, message):
    csv = f"{HEADER}\n{line()}\n{line(rx_number='RX2')}\n{line(rx_number='RX3', **override)}\n"
    with pytest.raises(PdmpFileError) as caught:
        parse_pdmp_csv(csv)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (4, column)
    assert message in problem.message


def test_every_problem_is_listed_not_only_the_first():
    csv = f"{HEADER}\n{line(quantity='x')}\n{line(days_supply='0', fill_date='never')}\n"
    with pytest.raises(PdmpFileError) as caught:
        parse_pdmp_csv(csv)
    assert [(p.line, p.column) for p in caught.value.problems] == [
        (2, "quantity"),
        (3, "days_supply"),
        (3, "fill_date"),
    ]


def test_a_row_with_the_wrong_number_of_values_is_refused():
    with pytest.raises(PdmpFileError) as caught:
        parse_pdmp_csv(f"{HEADER}\n{line()},extra\n")
    assert caught.value.problems[0].line == 2
    assert "12 values where the header names 11 columns" in caught.value.problems[0].message


def test_a_file_that_is_not_utf8_or_is_empty_is_refused_with_a_reason():
    with pytest.raises(PdmpFileError, match="not UTF-8"):
        parse_pdmp_csv(b"drug\n\xff\xfe")
    with pytest.raises(PdmpFileError, match="empty"):
        parse_pdmp_csv(b"")


def test_a_header_alone_is_a_report_with_no_dispensings():
    assert parse_pdmp_csv(HEADER) == []


def test_without_an_rx_number_the_natural_key_is_every_column():
    [a, b] = parse_pdmp_csv(f"{HEADER}\n{line(rx_number='')}\n{line(rx_number='', quantity='60')}\n")
    assert a.natural_key.startswith("row|alprazolam|1 mg|90|30|")
    assert a.natural_key != b.natural_key


# --- any valid file round-trips ------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s and s != "")


@st.composite
def npis(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return ""
    first_nine = draw(st.from_regex(r"\A[1-2][0-9]{8}\Z"))
    return first_nine + str(npi_check_digit(first_nine))


@st.composite
def pdmp_rows(draw: st.DrawFn) -> PdmpRow:
    written = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    return PdmpRow(
        line=0,
        drug=draw(_text),
        strength=draw(st.sampled_from(["", "0.5 mg", "2 MG", "5 mg/5 ml", "25 mcg/hr", "10"])),
        quantity=draw(st.decimals(min_value=0, max_value=10_000, places=3)),
        days_supply=draw(st.integers(min_value=1, max_value=365)),
        written_on=written,
        filled_on=written + timedelta(days=draw(st.integers(min_value=0, max_value=400))),
        prescriber_name=draw(_text),
        prescriber_npi=draw(npis()),
        pharmacy_name=draw(_text),
        pharmacy_npi=draw(npis()),
        rx_number=draw(st.one_of(st.just(""), _text)),
        daily_dose_mg=draw(st.decimals(min_value=0, max_value=1_000, places=3)),
        daily_dose_derived=False,
        directions=draw(st.one_of(st.just(""), _text)),
    )


def _without_line(row: PdmpRow) -> tuple:
    return (*(getattr(row, f) for f in PdmpRow.__dataclass_fields__ if f != "line"),)


@given(st.lists(pdmp_rows(), max_size=8))
def test_any_valid_file_round_trips(rows):
    parsed = parse_pdmp_csv(render_pdmp_csv(rows).encode())
    assert [_without_line(r) for r in parsed] == [_without_line(r) for r in rows]
    assert [r.line for r in parsed] == sorted(r.line for r in parsed)


@given(st.lists(pdmp_rows(), max_size=5))
def test_without_a_daily_dose_column_every_row_says_whether_it_was_derived(rows):
    parsed = parse_pdmp_csv(render_pdmp_csv(rows, with_daily_dose=False))
    for original, row in zip(rows, parsed, strict=True):
        expected = derive_daily_dose(original.quantity, original.strength, original.days_supply)
        assert (row.daily_dose_mg, row.daily_dose_derived) == (expected, expected is not None)
