"""Reading a PDMP report file (CSV) into prescription rows (pure, no Django).

`parse_pdmp_csv(data)` returns every row, or raises `PdmpFileError` listing every problem
with its line and column, so that a file is taken whole or not at all. `render_pdmp_csv`
writes rows back in the same columns (for tests, and to show the format).

Columns (header on line 1, any order, case and spaces ignored; see README "Tapers:
prescription ledger"):

- required: drug, strength, quantity, days_supply, written_date, fill_date,
  prescriber_name, prescriber_npi, pharmacy_name, pharmacy_npi, rx_number
- optional: daily_dose_mg, directions

Values: dates as YYYY-MM-DD or MM/DD/YYYY (the US form PDMP exports use); quantity a
number (tablets, capsules, or ml of a liquid); days_supply a whole number of at least 1;
NPIs empty or 10 digits with a valid check digit; rx_number may be empty. When the file has
no daily dose, it is derived as quantity x strength / days_supply and the row says so;
a strength the derivation cannot read (a patch in mcg/h) leaves the daily dose unknown.

A dispensing is the same across files when its natural key is (`PdmpRow.natural_key`):
pharmacy (NPI, else name) + rx number + fill date; without an rx number, every column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from clinic.npi import is_valid_npi

REQUIRED_COLUMNS = (
    "drug",
    "strength",
    "quantity",
    "days_supply",
    "written_date",
    "fill_date",
    "prescriber_name",
    "prescriber_npi",
    "pharmacy_name",
    "pharmacy_npi",
    "rx_number",
)
OPTIONAL_COLUMNS = ("daily_dose_mg", "directions")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Problems listed before giving up on a file: enough to fix a file in one go, bounded.
MAX_PROBLEMS = 50
MG = Decimal("0.001")  # the ledger keeps doses to the microgram


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # "" for the whole line or file
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class PdmpFileError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "the file cannot be read"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"The PDMP file was not imported: {first}{more}.")


@dataclass(frozen=True)
class PdmpRow:
    line: int
    drug: str
    strength: str
    quantity: Decimal
    days_supply: int
    written_on: date
    filled_on: date
    prescriber_name: str
    prescriber_npi: str
    pharmacy_name: str
    pharmacy_npi: str
    rx_number: str
    daily_dose_mg: Decimal | None  # None: not in the file and not derivable
    daily_dose_derived: bool
    directions: str = ""

    @property
    def strength_mg(self) -> Decimal | None:
        return strength_mg(self.strength)

    @property
    def natural_key(self) -> str:
        pharmacy = self.pharmacy_npi or _norm(self.pharmacy_name)
        if self.rx_number:
            return f"rx|{pharmacy}|{_norm(self.rx_number)}|{self.filled_on.isoformat()}"
        parts = [
            _norm(self.drug),
            _norm(self.strength),
            _number(self.quantity),
            str(self.days_supply),
            self.written_on.isoformat(),
            self.filled_on.isoformat(),
            self.prescriber_npi or _norm(self.prescriber_name),
            pharmacy,
        ]
        return "row|" + "|".join(parts)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


# "0.5 mg", "2MG", "10", "5 mg/5 ml", "1 mg/ml", "5-325 mg" (the first figure of a
# combination product is the controlled drug's), "200 mcg". A rate ("25 mcg/hr") is not a
# strength per unit.
_STRENGTH = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)(?:\s*-\s*\d+(?:\.\d+)?)?\s*(?P<unit>mg|mcg|g)?"
    r"(?:\s*/\s*(?P<per>\d+(?:\.\d+)?)?\s*(?P<per_unit>ml|hr|h|hour|day))?\s*$",
    re.IGNORECASE,
)
_UNIT_MG = {"mg": Decimal(1), "mcg": Decimal("0.001"), "g": Decimal(1000)}


def strength_mg(strength: str) -> Decimal | None:
    """mg per unit (per ml for a liquid) from a strength as written; None if unreadable."""
    match = _STRENGTH.match(strength)
    if not match:
        return None
    per_unit = (match["per_unit"] or "").lower()
    if per_unit and per_unit != "ml":
        return None
    amount = Decimal(match["amount"]) * _UNIT_MG[(match["unit"] or "mg").lower()]
    per = Decimal(match["per"] or 1)
    if amount <= 0 or per <= 0:
        return None
    return amount / per


def derive_daily_dose(quantity: Decimal, strength: str, days_supply: int) -> Decimal | None:
    """quantity x strength / days' supply, to the microgram (half up); None if the strength is unreadable."""
    per_unit = strength_mg(strength)
    if per_unit is None:
        return None
    return (quantity * per_unit / days_supply).quantize(MG, ROUND_HALF_UP)


def _header_name(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})")
_US_DATE = re.compile(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})")


def _date(value: str) -> date:
    match = _ISO_DATE.fullmatch(value) or _US_DATE.fullmatch(value)
    try:
        if match:
            return date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD or MM/DD/YYYY")


def _decimal(value: str, *, what: str) -> Decimal:
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number; write {what}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{value!r} is not a number of 0 or more; write {what}")
    return number


def _days(value: str) -> int:
    if not re.fullmatch(r"\d+", value) or int(value) < 1:
        raise ValueError(f"{value!r} is not a whole number of days of at least 1")
    return int(value)


def _npi(value: str) -> str:
    if value and not is_valid_npi(value):
        raise ValueError(f"{value!r} is not a valid NPI (10 digits, the last a check digit); leave it empty if unknown")
    return value


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PdmpFileError(
            [Problem(1, "", f"the file is not UTF-8 text (byte {error.start}); export it as CSV UTF-8")]
        ) from None


def parse_pdmp_csv(data: bytes | str) -> list[PdmpRow]:
    """Every row of the file, or PdmpFileError with every problem found (up to MAX_PROBLEMS)."""
    text = _decode(data) if isinstance(data, bytes) else data
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise PdmpFileError([Problem(1, "", "the file is empty; it needs a header line naming the columns")]) from None
    except csv.Error as error:
        raise PdmpFileError([Problem(1, "", f"not readable as CSV ({error})")]) from None
    names = [_header_name(name) for name in header]
    problems = [Problem(1, column, "this column is missing") for column in REQUIRED_COLUMNS if column not in names]
    duplicated = sorted({name for name in names if name and names.count(name) > 1})
    problems += [Problem(1, name, "this column appears twice") for name in duplicated]
    if problems:
        raise PdmpFileError(problems)
    index = {name: position for position, name in enumerate(names) if name in COLUMNS}

    rows: list[PdmpRow] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines (a trailing one is common)
            row, row_problems = _row(record, index, line, width=len(names))
            problems += row_problems
            if row is not None:
                rows.append(row)
            if len(problems) >= MAX_PROBLEMS:
                break
    except csv.Error as error:
        problems.append(Problem(reader.line_num, "", f"not readable as CSV ({error})"))
    if problems:
        raise PdmpFileError(problems[:MAX_PROBLEMS])
    return rows


def _row(record: list[str], index: dict[str, int], line: int, *, width: int) -> tuple[PdmpRow | None, list[Problem]]:
    if len(record) != width:
        return None, [Problem(line, "", f"{len(record)} values where the header names {width} columns")]
    cell = {name: record[position].strip() for name, position in index.items()}
    problems: list[Problem] = []
    values: dict[str, object] = {}

    def read(column: str, convert: object, *, required: bool = True) -> None:
        raw = cell.get(column, "")
        if not raw:
            if required:
                problems.append(Problem(line, column, "this value is empty"))
            return
        try:
            values[column] = convert(raw)  # type: ignore[operator]
        except ValueError as error:
            problems.append(Problem(line, column, str(error)))

    read("drug", str)
    read("strength", str, required=False)
    read("quantity", lambda v: _decimal(v, what="the units dispensed, e.g. 60"))
    read("days_supply", _days)
    read("written_date", _date)
    read("fill_date", _date)
    read("prescriber_name", str)
    read("prescriber_npi", _npi, required=False)
    read("pharmacy_name", str)
    read("pharmacy_npi", _npi, required=False)
    read("daily_dose_mg", lambda v: _decimal(v, what="mg a day, e.g. 1.5"), required=False)
    written, filled = values.get("written_date"), values.get("fill_date")
    if isinstance(written, date) and isinstance(filled, date) and filled < written:
        problems.append(Problem(line, "fill_date", f"filled {filled} before it was written ({written})"))
    if problems:
        return None, problems

    quantity: Decimal = values["quantity"]  # type: ignore[assignment]
    days_supply: int = values["days_supply"]  # type: ignore[assignment]
    strength = cell.get("strength", "")
    given = values.get("daily_dose_mg")
    daily = given if isinstance(given, Decimal) else derive_daily_dose(quantity, strength, days_supply)
    return (
        PdmpRow(
            line=line,
            drug=cell["drug"],
            strength=strength,
            quantity=quantity,
            days_supply=days_supply,
            written_on=written,  # type: ignore[arg-type]
            filled_on=filled,  # type: ignore[arg-type]
            prescriber_name=cell["prescriber_name"],
            prescriber_npi=cell.get("prescriber_npi", ""),
            pharmacy_name=cell["pharmacy_name"],
            pharmacy_npi=cell.get("pharmacy_npi", ""),
            rx_number=cell.get("rx_number", ""),
            daily_dose_mg=daily,
            daily_dose_derived=given is None and daily is not None,
            directions=cell.get("directions", ""),
        ),
        [],
    )


def render_pdmp_csv(rows: Iterable[PdmpRow], *, with_daily_dose: bool = True) -> str:
    """The rows in the file format parse_pdmp_csv reads (dates ISO)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = list(REQUIRED_COLUMNS) + (["daily_dose_mg"] if with_daily_dose else []) + ["directions"]
    writer.writerow(columns)
    for row in rows:
        values = {
            "drug": row.drug,
            "strength": row.strength,
            "quantity": _number(row.quantity),
            "days_supply": str(row.days_supply),
            "written_date": row.written_on.isoformat(),
            "fill_date": row.filled_on.isoformat(),
            "prescriber_name": row.prescriber_name,
            "prescriber_npi": row.prescriber_npi,
            "pharmacy_name": row.pharmacy_name,
            "pharmacy_npi": row.pharmacy_npi,
            "rx_number": row.rx_number,
            "daily_dose_mg": "" if row.daily_dose_mg is None else _number(row.daily_dose_mg),
            "directions": row.directions,
        }
        writer.writerow([values[column] for column in columns])
    return out.getvalue()
