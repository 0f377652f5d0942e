"""The restore drill of the README's "Backups and restore": records written through the services,
a `pg_dump --format=custom` of the test database, `pg_restore` into a new database, and the two
compared table by table, sequence by sequence and trigger by trigger.

The test needs the PostgreSQL client tools (postgresql-client: pg_dump, pg_restore, createdb,
dropdb) of the server's major version or newer; without them it fails, it does not skip, because
a backup nobody has restored is not a backup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import connection
from knox.models import AuthToken
from psycopg import sql

from clinic.audit import audit_record, audit_target_for
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import Role
from insurance.services.coverage import coverage_create, payer_create
from insurance.services.eligibility import eligibility_check_request
from patients.services.consents import consent_record
from patients.services.episodes import episode_admit
from scheduling.models import SessionType
from scheduling.services.appointments import appointment_create
from tests.clinic.factories import LocationFactory, StaffProfileFactory, UserFactory
from tests.insurance.conftest import PAYER_CONSENT
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_plans import approved, make_prescriber, stock_all

# pg_dump sees only committed rows: the records are written outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

# Monday 23 November 2026, 10:00 in New York, the date the other apps' tests are written from.
NOW = "2026-11-23 15:00:00+00:00"

# Tables the records below must have written to, so that "equal" is never two empty tables.
WRITTEN = (
    # What `manage.py migrate --check` reads: equal rows here, and the same schema objects, are
    # what that check after a restore confirms (a Django start-up in the test would cost seconds).
    "django_migrations",
    "auth_user",
    "knox_authtoken",
    "clinic_auditevent",
    "patients_patient",
    "patients_consent",
    "patients_disclosure",
    "patients_episodeofcare",
    "patients_levelofcarestay",
    "scheduling_session",
    "scheduling_booking",
    "tapers_taperplan",
    "tapers_taperplanversion",
    "tapers_taperstep",
    "insurance_payer",
    "insurance_coverage",
    "insurance_eligibilitycheck",
)
SEQUENCES = ("patients_mrn_seq", "insurance_interchange_control_seq")


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: the backup drill needs the PostgreSQL client tools "
            "(apt-get install postgresql-client; .ci/run installs it when pg_isready is missing).",
            pytrace=False,
        )
    return path


def run(tool: str, *args: str) -> None:
    """Run a client tool against the test server as the test database's user."""
    db = connection.settings_dict
    env = {**os.environ, **({"PGPASSWORD": db["PASSWORD"]} if db["PASSWORD"] else {})}
    where: list[str] = []
    for key, flag in (("HOST", "--host"), ("PORT", "--port"), ("USER", "--username")):
        if db[key]:
            where += [flag, str(db[key])]
    result = subprocess.run(
        [pg_tool(tool), *where, "--no-password", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{tool} {' '.join(args)} failed:\n{result.stderr}"


def connect(name: str) -> psycopg.Connection[Any]:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=name,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        autocommit=True,
    )


@pytest.fixture
def restored_name() -> Iterator[str]:
    """A new, empty database for the restore, dropped afterwards whatever happened."""
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        pg_tool(tool)
    name = f"restore_{uuid.uuid4().hex[:8]}"
    run("createdb", name)
    try:
        yield name
    finally:
        # FORCE: a connection the test left open must not keep a restored copy of patient data around.
        run("dropdb", "--if-exists", "--force", name)


@pytest.fixture
def records(fast_password_hashing) -> None:
    """A morning at the clinic, through the services: a patient registered, consented, admitted,
    booked, covered, checked for eligibility, on an approved taper plan; a read audited."""
    with time_machine.travel(NOW, tick=False):
        admissions = UserFactory.create(roles=[Role.ADMISSIONS])
        billing = UserFactory.create(roles=[Role.BILLING])
        location = LocationFactory.create(name="Main office")
        therapist = StaffProfileFactory.create(
            user=UserFactory.create(roles=[Role.CLINICIAN]), primary_location=location
        )
        prescriber = make_prescriber()
        stock_all()
        AuthToken.objects.create(user=therapist.user)

        patient = PatientFactory.create(legal_first_name="Dana", legal_last_name="O'Neill")
        PatientFactory.create()  # a second MRN drawn, so the sequence is not at its start
        put_on_care_team(patient, therapist.user, "primary_clinician")
        put_on_care_team(patient, prescriber, "prescriber_of_record")
        consent_record(
            patient=patient,
            by=admissions,
            **PAYER_CONSENT,
            recipient_name="ABC Company",
            effective_on="2026-11-01",
            expires_on="2027-11-01",
            signed_at="2026-11-01T10:00:00-05:00",
            signature_method="electronic",
        )
        episode_admit(
            patient=patient,
            level=LevelOfCare.objects.get(code="iop"),
            admitted_on=date(2026, 11, 23),
            reason="",
            by=therapist.user,
        )
        appointment_create(
            session_type=SessionType.objects.get(code="individual_therapy"),
            patient=patient,
            staff=[therapist.user],
            location=location,
            starts_at=datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("America/New_York")),
            modality="video",
            by=admissions,
        )
        payer = payer_create(by=billing, name="ABC Company", payer_id="842610001", phone="+18005551212")
        coverage = coverage_create(
            patient=patient, by=billing, payer=payer, member_id="W199966066", effective_on=date(2026, 1, 1)
        )
        eligibility_check_request(coverage=coverage, by=billing, mode="file")
        approved(patient, prescriber)
        audit_record(
            audit_target_for(patient, patient_path=""), action=AuditAction.READ, actor=therapist.user, via="admin"
        )


def loose(definition: str) -> str:
    """A constraint's or index's definition without casts, brackets or spaces. PostgreSQL prints a
    restored `varchar IN (...)` check or index predicate as the same expression in other words:
    `ANY (ARRAY[('a'::character varying)::text])` for `ANY ((ARRAY['a'::character varying])::text[])`."""
    return re.sub(r"::[a-z]+(?: [a-z]+)*(?:\[\])?|[()\s]", "", definition)


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """What a restore must bring back: every table's rows (count and a digest of the rows in a
    fixed order), every sequence's position, and the schema objects that hold the invariants."""
    tables = [name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    rows = {}
    for table in tables:
        # COLLATE "C": the order, hence the digest, must not depend on the new database's locale.
        query = sql.SQL(
            """SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text COLLATE "C"), ''))"""
            " FROM {} AS t"
        ).format(sql.Identifier(table))
        rows[table] = conn.execute(query).fetchone()
    sequences = {}
    for (name,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'").fetchall():
        query = sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(name))
        sequences[name] = conn.execute(query).fetchone()
    return {
        "rows": rows,
        "sequences": sequences,
        "triggers": set(
            conn.execute(
                "SELECT tgrelid::regclass::text, tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE NOT tgisinternal"
            ).fetchall()
        ),
        "functions": set(
            conn.execute(
                "SELECT proname, md5(pg_get_functiondef(oid)) FROM pg_proc"
                " WHERE pronamespace = 'public'::regnamespace AND prokind = 'f'"
            ).fetchall()
        ),
        "constraints": {
            (table, name, loose(definition))
            for table, name, definition in conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE connamespace = 'public'::regnamespace"
            ).fetchall()
        },
        "indexes": {
            (name, loose(definition))
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        },
        "extensions": set(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()),
    }


def test_it_restores_a_dump_into_a_new_database_with_the_same_records(restored_name, records, tmp_path: Path):
    source_name = connection.settings_dict["NAME"]
    dump = tmp_path / "clinic.dump"

    run("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}", source_name)
    run("pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={restored_name}", str(dump))

    with connect(source_name) as source_conn, connect(restored_name) as restored_conn:
        source, restored = snapshot(source_conn), snapshot(restored_conn)
        assert restored["rows"] == source["rows"]
        assert restored["sequences"] == source["sequences"]
        for part in ("triggers", "functions", "constraints", "indexes", "extensions"):
            assert restored[part] == source[part], part

        # The comparison above is only worth something if there was something to compare.
        assert all(source["rows"][table][0] > 0 for table in WRITTEN), {t: source["rows"][t][0] for t in WRITTEN}
        assert all(source["sequences"][name][1] for name in SEQUENCES), source["sequences"]
        assert any(name == "btree_gist" for name, _ in restored["extensions"])

        # The audit log is as append-only in the copy as in the original, and an approved taper
        # plan as immutable: the triggers came back enabled and still refuse.
        assert restored_conn.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'clinic_auditevent_append_only'"
        ).fetchone() == ("O",)
        for change in ("UPDATE clinic_auditevent SET reason = 'edited'", "DELETE FROM clinic_auditevent"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                restored_conn.execute(change)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="is approved"):
            restored_conn.execute("UPDATE tapers_taperplanversion SET inputs = '{}' WHERE approved_at IS NOT NULL")
