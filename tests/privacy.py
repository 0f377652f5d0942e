"""No patient data where it does not belong, checked over the whole test run (a pytest plugin,
registered from tests/conftest.py).

Every patient, contact, referral and coverage saved during the run adds its identifying
values to an index: legal and preferred names (tokens of 4 characters or more that are not
common English words), MRN, date of birth (ISO, US and X12's CCYYMMDD), phone (E.164 and
national), email, member id. Then, as they happen:

- every log record (its message with the arguments rendered, its traceback and stack) is
  looked up against the index;
- every Celery message published (``before_task_publish``) must carry ids only: ints, UUIDs,
  short lowercase codes or None, and nothing from the index;
- every SMS a test sends through the locmem backend or the fake Twilio must not contain a
  word that reveals the kind of care (scheduling.reminder_content.REVEALING_WORDS) nor a value
  of a patient saved in that test.

Each finding fails the test that was running, as an error in its teardown naming what leaked
where (so it holds under pytest-xdist too, where each worker reports its own tests). What is
found between tests (a session fixture's setup) fails the next test; what is found after the
last test fails the run as ``tests/privacy.py::patient data``.

Limits: only what runs in this process is seen (the workers tests/reliability starts are
other processes); records below a logger's level are never made, so our own apps' loggers
are lowered to DEBUG for the run and other libraries are checked at the level configured;
rows written with bulk_create or update() send no post_save and are not indexed.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from faker.providers.lorem import en_US as _lorem

# Our own code: logged at every level during the run, so a debug line is checked too.
APP_LOGGERS = ("clinic", "patients", "scheduling", "insurance", "tapers")
# Test tooling that never runs in production (factory_boy logs the fields it builds with).
IGNORED_LOGGERS = ("factory", "faker")

# Common English words (Faker's ~1,000-word English list, plus words that are also names):
# a log line saying "before" or "first" is not a leak even if a test called a patient
# "Before" or gave a member id "FIRST". Real names (Smith, Okafor, Given12) are not in it.
COMMON_WORDS = frozenset(word.lower() for word in _lorem.Provider.word_list) | frozenset(
    {
        "able", "also", "april", "august", "autumn", "baker", "bell", "bill", "black", "brown", "carter", "child",
        "cook", "dawn", "demo", "else", "example", "family", "father", "field", "friend", "given", "grace",
        "gray", "green", "grey", "guardian", "hill", "hope", "hunter", "joy", "june", "king", "lane", "long",
        "main", "mark", "mother", "north", "office", "other", "park", "partner", "patient", "person", "price",
        "rich", "river", "rivers", "rose", "sample", "sister", "someone", "south", "spouse", "stone", "summer",
        "test", "west", "white", "will", "wood", "young",
    }
)  # fmt: skip

_TOKEN = re.compile(r"[^\W_]+")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_US_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_COMPACT_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
# A phone as people write it: "+1 (617) 555-0101", "617.555.0101", "+16175550101".
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{5,}\d")
_DIGITS = re.compile(r"\d{7,15}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
# What a task argument that is not a number or a UUID may be: a code such as "sms" or "http".
_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


class PatientData:
    """Identifying values of patients, looked up by the tokens of a text (cheap per text:
    a few regex scans and set lookups, however many patients the run has made)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}

    def __bool__(self) -> bool:
        return bool(self._values)

    def clear(self) -> None:
        self._values.clear()

    def add_name(self, name: str, kind: str) -> None:
        for token in _TOKEN.findall(name.lower()):
            if len(token) >= 4 and not token.isdigit() and token not in COMMON_WORDS:
                self._values[("word", token)] = kind

    def add_token(self, value: str, kind: str) -> None:
        """A value matched whole (an MRN, a member id): its alphanumeric tokens together."""
        token = "".join(_TOKEN.findall(value.lower()))
        if len(token) >= 4 and token not in COMMON_WORDS:
            self._values[("word", token)] = kind

    def add_date(self, value: date | str | None, kind: str) -> None:
        # A row saved straight after being built from a form or a test keeps the string it was given.
        if isinstance(value, str) and value:
            value = date.fromisoformat(value[:10])
        if isinstance(value, date):
            self._values[("date", value.isoformat())] = kind

    def add_phone(self, value: Any, kind: str) -> None:
        if not value:
            return
        if isinstance(value, str):
            from phonenumber_field.phonenumber import to_python

            value = to_python(value) or value
        for text in (getattr(value, "as_e164", None), getattr(value, "as_national", None), str(value)):
            digits = re.sub(r"\D", "", text or "")
            if len(digits) >= 7:
                self._values[("digits", digits)] = kind

    def add_email(self, value: str, kind: str) -> None:
        if value:
            self._values[("email", value.lower())] = kind

    def _keys(self, text: str) -> Iterator[tuple[str, str, str]]:
        """(namespace, normalised value, as written) for every candidate in the text."""
        for token in _TOKEN.findall(text):
            yield "word", token.lower(), token
        for match in _ISO_DATE.finditer(text):
            yield "date", _iso(*match.groups()) or "", match.group()
        for match in _US_DATE.finditer(text):
            month, day, year = match.groups()
            yield "date", _iso(year, month, day) or "", match.group()
        for match in _COMPACT_DATE.finditer(text):
            yield "date", _iso(*match.groups()) or "", match.group()
        for match in _PHONE.finditer(text):
            yield "digits", re.sub(r"\D", "", match.group()), match.group()
        for match in _DIGITS.finditer(text):
            yield "digits", match.group(), match.group()
        for match in _EMAIL.finditer(text):
            yield "email", match.group().lower(), match.group()

    def find(self, text: str) -> list[tuple[str, str]]:
        """(kind, value as written) of each patient value in `text`."""
        if not self._values or not text:
            return []
        found: dict[str, str] = {}
        for namespace, key, written in self._keys(text):
            kind = self._values.get((namespace, key))
            if kind is not None:
                found.setdefault(written, kind)
        return [(kind, written) for written, kind in found.items()]


def index_instance(data: PatientData, instance: Any) -> None:
    """Add what identifies a patient in one saved row (Patient, PatientContact, Referral, Coverage)."""
    model = type(instance).__name__
    if model == "Patient":
        data.add_name(instance.legal_first_name, "patient name")
        data.add_name(instance.legal_last_name, "patient name")
        data.add_name(instance.preferred_name, "patient name")
        data.add_token(instance.mrn, "MRN")
        data.add_date(instance.date_of_birth, "date of birth")
        data.add_phone(instance.phone, "patient phone")
        data.add_email(instance.email, "patient email")
    elif model == "PatientContact":
        data.add_name(instance.name, "contact name")
        data.add_phone(instance.phone, "contact phone")
        data.add_email(instance.email, "contact email")
    elif model == "Referral":
        data.add_name(instance.first_name, "referral name")
        data.add_name(instance.last_name, "referral name")
        data.add_date(instance.date_of_birth, "referral date of birth")
        data.add_phone(instance.phone, "referral phone")
        data.add_email(instance.email, "referral email")
    elif model == "Coverage":
        data.add_token(instance.member_id, "member id")
        data.add_name(instance.subscriber_first_name, "subscriber name")
        data.add_name(instance.subscriber_last_name, "subscriber name")
        data.add_date(instance.subscriber_date_of_birth, "subscriber date of birth")


def task_argument_problems(value: Any, data: PatientData, path: str = "") -> list[str]:
    """Why a task argument is not an id: empty when it is an int, a UUID, a short lowercase
    code or None (or a list or dict of those), and holds nothing from `data`."""
    where = path or "argument"
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        leaked = data.find(str(value))
        return [f"{where} holds {', '.join(sorted({kind for kind, _ in leaked}))} ({value!r})"] if leaked else []
    if isinstance(value, uuid.UUID):
        return []
    if isinstance(value, str):
        leaked = data.find(value)
        if leaked:
            return [f"{where} holds {', '.join(sorted({kind for kind, _ in leaked}))} ({value!r})"]
        if _UUID.fullmatch(value) or _CODE.fullmatch(value):
            return []
        return [f"{where} is not an id: {value!r}"]
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in task_argument_problems(item, data, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [p for k, item in value.items() for p in task_argument_problems(item, data, f"{where}[{k!r}]")]
    return [f"{where} is not an id: a {type(value).__name__}"]


@dataclass(frozen=True)
class Finding:
    where: str  # "log", "task" or "sms"
    source: str  # the logger, the task, the SMS backend
    test: str
    problem: str


class _State:
    def __init__(self) -> None:
        self.everyone = PatientData()  # every patient of the run: logs and task messages
        self.this_test = PatientData()  # the running test's patients: its SMS
        self.findings: list[Finding] = []  # not yet reported
        self.test = "(outside any test)"
        self.sms_seen: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def add(self, finding: Finding) -> None:
        with self.lock:
            self.findings.append(finding)

    def take(self) -> list[Finding]:
        with self.lock:
            findings, self.findings = self.findings, []
        return findings


STATE = _State()


class PatientDataLogHandler(logging.Handler):
    """Looks each record up against the index as it is emitted; never writes anything."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in IGNORED_LOGGERS or not STATE.everyone:
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: check what would have been shown
            message = f"{record.msg} {record.args!r}"
        parts = [message]
        if record.exc_info:
            parts.append(self._formatter.formatException(record.exc_info))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        leaked = STATE.everyone.find("\n".join(parts))
        if leaked:
            shown = ", ".join(f"{kind} {value!r}" for kind, value in leaked)
            STATE.add(Finding("log", f"{record.name} {record.levelname}", STATE.test, f"{shown} in {message[:200]!r}"))


_HANDLER = PatientDataLogHandler()


def _attach_handler() -> None:
    """On the root logger, and on every logger that does not pass its records up. Again
    before each test: Celery's worker (tests/clinic/test_licence_notice.py) and any
    dictConfig replace the root logger's handlers."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate:
            loggers.append(logger)
    for logger in loggers:
        if _HANDLER not in logger.handlers:
            logger.addHandler(_HANDLER)


def _on_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    index_instance(STATE.everyone, instance)
    index_instance(STATE.this_test, instance)


def _on_publish(sender: str | None = None, body: Any = None, **kwargs: Any) -> None:
    # Protocol 2 bodies are (args, kwargs, embed); protocol 1 a dict.
    if isinstance(body, dict):
        args, task_kwargs = body.get("args", ()), body.get("kwargs", {})
    else:
        args, task_kwargs = body[0], body[1]
    problems = task_argument_problems(list(args), STATE.everyone, "args")
    problems += task_argument_problems(dict(task_kwargs), STATE.everyone, "kwargs")
    for problem in problems:
        STATE.add(Finding("task", str(sender), STATE.test, problem))


def sms_problems(body: str, data: PatientData) -> list[str]:
    """Why an SMS body may not go out: words that reveal the kind of care, patient data."""
    from django.conf import settings

    from scheduling.reminder_content import revealing_words_in

    problems = []
    revealing = revealing_words_in(body, settings.REMINDER_EXTRA_REVEALING_WORDS)
    if revealing:
        problems.append(f"reveals the kind of care ({', '.join(revealing)})")
    leaked = data.find(body)
    if leaked:
        problems.append(f"holds {', '.join(f'{kind} {value!r}' for kind, value in leaked)}")
    return problems


def _sms_bodies(item: pytest.Item) -> Iterable[tuple[str, str]]:
    from clinic import messaging
    from tests.fakes.twilio import FakeTwilio

    for message in list(messaging.outbox):
        yield "locmem", message.body
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, FakeTwilio):
            for sent in list(value.messages):
                yield "fake twilio", sent.request.body


def _check_sms(item: pytest.Item) -> None:
    for backend, body in _sms_bodies(item):
        key = (backend, body)
        if key in STATE.sms_seen:
            continue
        STATE.sms_seen.add(key)
        for problem in sms_problems(body, STATE.this_test):
            STATE.add(Finding("sms", backend, STATE.test, f"{problem}: {body!r}"))


def pytest_sessionstart(session: pytest.Session) -> None:
    from celery.signals import before_task_publish
    from django.db.models.signals import post_save

    for model in ("patients.Patient", "patients.PatientContact", "patients.Referral", "insurance.Coverage"):
        post_save.connect(_on_save, sender=model, weak=False, dispatch_uid=f"tests.privacy.{model}")
    before_task_publish.connect(_on_publish, weak=False, dispatch_uid="tests.privacy")
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _attach_handler()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    STATE.test = item.nodeid
    STATE.this_test.clear()
    STATE.sms_seen.clear()
    _attach_handler()
    try:
        return (yield)
    finally:
        STATE.test = "(between tests)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        _check_sms(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    # Before the fixtures are finalised: some clear the outbox on the way out.
    _check_sms(item)
    return (yield)


def report(findings: list[Finding]) -> str:
    lines = [
        f"{len(findings)} place(s) where patient data went where it must not "
        "(logs and task messages carry ids only; an SMS says nothing of the care or the patient):",
    ]
    for finding in findings:
        lines.append(f"- {finding.where} from {finding.source}, during {finding.test}: {finding.problem}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    result = yield
    if call.when == "teardown":
        findings = STATE.take()
        if findings:
            result.outcome = "failed"
            result.longrepr = report(findings)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    findings = STATE.take()
    if not findings:
        return
    text = report(findings)
    failed = pytest.TestReport(
        nodeid="tests/privacy.py::patient data",
        location=("tests/privacy.py", None, "patient data"),
        keywords={},
        outcome="failed",
        longrepr=text,
        when="call",
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.stats.setdefault("failed", []).append(failed)
    else:
        print(text)  # no terminal reporter: still say why the run failed
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
