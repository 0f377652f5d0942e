"""Fill the bench database with a year of a synthetic clinic (bench/README.md, "The data").

    python3 -m uv run python bench/generate.py [--reset]

Creates and migrates the database named by BENCH_DATABASE_URL (default clinic_bench) when
needed. Does nothing when the clinic is already there; --reset drops the database first.
Small tables go through bulk_create; sessions, their staff and bookings through COPY, all
in one transaction, so an interrupted run leaves nothing half made. The database's
exclusion constraints check every row: nobody and no room is in two places at once.
"""

from __future__ import annotations

import argparse
import sys
import time as clock
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from django.db.models import Model

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FIRST_NAMES = ["Avery", "Blake", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper", "Jordan", "Kai", "Logan"]
FIRST_NAMES += ["Morgan", "Noel", "Parker", "Quinn", "Reese", "Sage", "Tatum", "Val", "Wren", "Yael", "Zion"]
LAST_NAMES = ["Abbott", "Barnes", "Chen", "Diaz", "Ellis", "Foster", "Garcia", "Hughes", "Ibarra", "Jensen", "Khan"]
LAST_NAMES += ["Lopez", "Murphy", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Singh", "Turner", "Usman", "Vargas"]
LAST_NAMES += ["Walsh", "Xu", "Young", "Zimmer", "Adler", "Brooks", "Cruz", "Dunn", "Evans", "Fischer", "Gomez"]
TOPICS = ["cbt_anxiety_panic", "dbt_skills", "relapse_prevention", "cbt_i", "peer_support"]


@dataclass(frozen=True)
class TrackPlan:
    level: str
    days: int  # meets on the first `days` weekdays (Monday = 0)
    minutes: int


def track_plan(index: int) -> TrackPlan:
    """13 PHP tracks (Mon-Sat 09:00-12:00), 14 IOP (Mon-Fri 09:00-12:00), 13 outpatient
    (Mon-Fri 09:00-10:30)."""
    if index < 13:
        return TrackPlan("php", 6, 180)
    if index < 27:
        return TrackPlan("iop", 5, 180)
    return TrackPlan("outpatient", 5, 90)


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    # Wall-clock time in the location's zone, as scheduling.recurrence computes it.
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _copy(model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows (values of the fields `names`, by attname) into the model's table, on
    Django's own connection and so inside its transaction. Every other column gets its
    field's default (NULL when it has none): a field added to the model later, with a
    default or nullable, does not break the generator."""
    from django.db import connection

    fields = {field.attname: field for field in model._meta.concrete_fields}
    unknown = set(names) - set(fields)
    if unknown:
        raise SystemExit(f"{model.__name__} has no field {', '.join(sorted(unknown))}; update bench/generate.py.")
    rest = [field for name, field in fields.items() if name not in names and not field.primary_key]
    columns = [str(fields[name].column) for name in names] + [str(field.column) for field in rest]
    defaults = tuple(field.get_default() for field in rest)
    statement = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    connection.ensure_connection()
    count = 0
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row((*row, *defaults))
            count += 1
    return count


def _next_ids(table: str, count: int) -> range:
    """Reserve `count` ids of a table's identity column (so rows can refer to each other
    before they are copied in)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - a fixed table name
        (start,) = cursor.fetchone()
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start + count])
    return range(start + 1, start + count + 1)


def build(out: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    from clinic.models import LevelOfCare, Location, Room, StaffProfile
    from clinic.roles import Role
    from patients.models import (
        CareTeamMember,
        CareTeamRole,
        ContactRelationship,
        EpisodeOfCare,
        LevelOfCareStay,
        Patient,
        PatientContact,
        PatientStatus,
        ReminderChannel,
        TransitionKind,
    )
    from scheduling.models import Booking, GroupTrack, Session, SessionStaff, SessionType, TrackEnrollment

    started = clock.monotonic()
    session_fields = {field.attname for field in Session._meta.concrete_fields}

    def step(what: str) -> None:
        out.write(f"  {clock.monotonic() - started:6.1f}s  {what}\n")

    zone = ZoneInfo(common.ZONE)
    now = timezone.now()
    today = now.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=common.WEEKS // 2)
    days = [first_monday + timedelta(days=n) for n in range(common.WEEKS * 7)]

    location = Location.objects.create(
        name=common.LOCATION_NAME,
        address_line1="1 Benchmark Way",
        city="Springfield",
        state="MA",
        postal_code="01103",
        time_zone=zone,
    )
    group_rooms = Room.objects.bulk_create(
        Room(location=location, name=f"Group room {n + 1:02d}", capacity=common.PATIENTS_PER_TRACK)
        for n in range(common.TRACKS)
    )
    offices = Room.objects.bulk_create(
        Room(location=location, name=f"Office {n + 1:02d}", capacity=4) for n in range(common.CLINICIANS)
    )

    # Staff: one password hash for everyone (hashing is deliberately slow).
    User = get_user_model()
    password = make_password(common.PASSWORD)
    clinicians = User.objects.bulk_create(
        User(
            username=common.clinician_username(n),
            first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
            last_name=f"Clinician{n:02d}",
            email=f"{common.clinician_username(n)}@example.org",
            is_staff=True,
            password=password,
        )
        for n in range(common.CLINICIANS)
    )
    desk = User.objects.create(
        username=common.ADMISSIONS_USERNAME, first_name="Desk", last_name="Bench", is_staff=True, password=password
    )
    Group.objects.get(name=Role.CLINICIAN).user_set.add(*clinicians)
    Group.objects.get(name=Role.ADMISSIONS).user_set.add(desk)
    StaffProfile.objects.bulk_create(
        StaffProfile(user=user, credentials="LCSW" if user in clinicians else "", primary_location=location)
        for user in [*clinicians, desk]
    )
    step(f"location, {len(group_rooms) + len(offices)} rooms, {len(clinicians) + 1} staff")

    # Patients, each admitted at their track's level since the first day.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('patients_mrn_seq') FROM generate_series(1, %s)", [common.PATIENTS])
        mrns = [f"MRN{number:07d}" for (number,) in cursor.fetchall()]
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=mrns[n],
            legal_first_name=FIRST_NAMES[(n * 7) % len(FIRST_NAMES)],
            legal_last_name=LAST_NAMES[n % len(LAST_NAMES)],
            date_of_birth=date(1950, 1, 1) + timedelta(days=(n * 173) % 18000),
            phone=f"+1617555{100 + n % 100:04d}",
            email=f"patient{n}@example.org",
            city="Springfield",
            state="MA",
            postal_code="01103",
            time_zone=zone,
            reminder_channel=ReminderChannel.SMS if n % 2 else ReminderChannel.EMAIL,
            status=PatientStatus.ADMITTED,
        )
        for n in range(common.PATIENTS)
    )
    PatientContact.objects.bulk_create(
        PatientContact(
            patient=patient,
            name=f"Contact of {n}",
            relationship=ContactRelationship.SPOUSE_PARTNER,
            phone="+16175550150",
            is_emergency_contact=True,
        )
        for n, patient in enumerate(patients)
    )
    levels = {level.code: level for level in LevelOfCare.objects.all()}
    track_of = [n // common.PATIENTS_PER_TRACK for n in range(common.PATIENTS)]
    episodes = EpisodeOfCare.objects.bulk_create(
        EpisodeOfCare(patient=patient, admitted_on=first_monday) for patient in patients
    )
    LevelOfCareStay.objects.bulk_create(
        LevelOfCareStay(
            episode=episode,
            level=levels[track_plan(track_of[n]).level],
            started_on=first_monday,
            kind=TransitionKind.ADMISSION,
            reason="Bench admission",
            decided_by=clinicians[n % common.CLINICIANS],
        )
        for n, episode in enumerate(episodes)
    )
    step(f"{len(patients)} patients admitted, with a contact each")

    # Tracks: track i in group room i, led by clinician i (co-led by clinician TRACKS + i
    # for the first CLINICIANS - TRACKS tracks); the same slot every week.
    group_therapy = SessionType.objects.get(code="group_therapy")
    individual = SessionType.objects.get(code="individual_therapy")
    plans = [track_plan(i) for i in range(common.TRACKS)]
    weekdays = ["MO", "TU", "WE", "TH", "FR", "SA"]
    tracks = GroupTrack.objects.bulk_create(
        GroupTrack(
            name=f"{plan.level.upper()} skills {i + 1:02d}",
            level=levels[plan.level],
            location=location,
            session_type=group_therapy,
            room=group_rooms[i],
            capacity=common.PATIENTS_PER_TRACK,
            rrule=f"FREQ=WEEKLY;BYDAY={','.join(weekdays[: plan.days])}",
            starts_on=first_monday,
            start_time=time(9, 0),
            duration_minutes=plan.minutes,
            topics=[TOPICS[i % len(TOPICS)]],
        )
        for i, plan in enumerate(plans)
    )
    leads: list[list[Any]] = [[clinicians[i]] for i in range(common.TRACKS)]
    for n in range(common.TRACKS, common.CLINICIANS):
        leads[n - common.TRACKS].append(clinicians[n])
    Facilitator = GroupTrack.facilitators.through
    Facilitator.objects.bulk_create(
        Facilitator(grouptrack_id=track.pk, user_id=user.pk)
        for track, users in zip(tracks, leads, strict=True)
        for user in users
    )
    enrollments = TrackEnrollment.objects.bulk_create(
        TrackEnrollment(track=tracks[track_of[n]], patient=patient, started_on=first_monday, enrolled_by=desk)
        for n, patient in enumerate(patients)
    )
    # Care teams: a primary clinician each (patient n: clinician n % CLINICIANS), and the
    # track's lead as another clinician on the team.
    primary = [n % common.CLINICIANS for n in range(common.PATIENTS)]
    members = [
        CareTeamMember(
            patient=patient,
            member=clinicians[primary[n]],
            team_role=CareTeamRole.PRIMARY_CLINICIAN,
            started_on=first_monday,
        )
        for n, patient in enumerate(patients)
    ]
    members += [
        CareTeamMember(
            patient=patient, member=clinicians[track_of[n]], team_role=CareTeamRole.OTHER, started_on=first_monday
        )
        for n, patient in enumerate(patients)
        if track_of[n] != primary[n]
    ]
    CareTeamMember.objects.bulk_create(members)
    step(f"{len(tracks)} tracks, {len(enrollments)} enrollments, {len(members)} care-team memberships")

    # Sessions: the tracks' (09:00 local, every meeting day of the year) and one-to-one
    # therapy in each clinician's office (afternoons, 13 a week, rotating through the
    # clinician's own patients).
    session_cols = ["id", "public_id", "created_at", "updated_at", "starts_at", "ends_at", "capacity", "modality"]
    session_cols += ["topic", "status", "cancel_reason", "location_id", "room_id", "track_id", "session_type_id"]
    # Copies the scheduling services keep on a session, when this version of the model has them:
    # a physical room is exclusive; a track's session stands for the occurrence it was made for.
    copies = [name for name in ("room_is_exclusive", "occurrence_at") if name in session_fields]
    session_cols += copies

    def extra(start: datetime, track: bool) -> tuple[Any, ...]:
        values = {"room_is_exclusive": True, "occurrence_at": start if track else None}
        return tuple(values[name] for name in copies)

    group_rows: list[tuple[Any, ...]] = []
    for i, plan in enumerate(plans):
        for day in days:
            if day.weekday() < plan.days:
                start = _at(day, 9, 0, zone)
                end = start + timedelta(minutes=plan.minutes)
                group_rows.append((i, start, end, plan.minutes))
    caseload: list[list[int]] = [[] for _ in range(common.CLINICIANS)]
    for n in range(common.PATIENTS):
        caseload[primary[n]].append(n)
    one_to_one: list[tuple[int, int, datetime, datetime]] = []  # clinician, patient, start, end
    for week in range(common.WEEKS):
        monday = first_monday + timedelta(weeks=week)
        for c in range(common.CLINICIANS):
            for k in range(common.INDIVIDUAL_PER_WEEK):
                start = _at(monday + timedelta(days=k // 4), 13 + k % 4, 0, zone)
                patient_n = caseload[c][(week * common.INDIVIDUAL_PER_WEEK + k) % len(caseload[c])]
                one_to_one.append((c, patient_n, start, start + timedelta(minutes=50)))
    ids = _next_ids("scheduling_session", len(group_rows) + len(one_to_one))
    group_ids, individual_ids = ids[: len(group_rows)], ids[len(group_rows) :]

    def session_rows() -> Iterable[tuple[Any, ...]]:
        scheduled = ("scheduled", "", location.pk)
        for sid, (i, start, end, _) in zip(group_ids, group_rows, strict=True):
            head = (
                sid,
                uuid.uuid4(),
                now,
                now,
                start,
                end,
                common.PATIENTS_PER_TRACK,
                "in_person",
                tracks[i].topics[0],
            )
            yield (*head, *scheduled, group_rooms[i].pk, tracks[i].pk, group_therapy.pk, *extra(start, True))
        for sid, (c, _, start, end) in zip(individual_ids, one_to_one, strict=True):
            head = (sid, uuid.uuid4(), now, now, start, end, 1, "in_person", "")
            yield (*head, *scheduled, offices[c].pk, None, individual.pk, *extra(start, False))

    sessions = _copy(Session, session_cols, session_rows())
    step(f"{sessions} sessions ({len(group_rows)} group, {len(one_to_one)} one-to-one)")

    def staff_rows() -> Iterable[tuple[Any, ...]]:
        for sid, (i, start, end, _) in zip(group_ids, group_rows, strict=True):
            for user in leads[i]:
                yield (sid, user.pk, start, end, True)
        for sid, (c, _, start, end) in zip(individual_ids, one_to_one, strict=True):
            yield (sid, clinicians[c].pk, start, end, True)

    staff = _copy(SessionStaff, ["session_id", "user_id", "starts_at", "ends_at", "is_active"], staff_rows())
    step(f"{staff} session staff rows")

    # Bookings: every enrolled patient in each of their track's sessions, the one-to-one
    # patient in theirs. About 1 in 33 cancelled by the patient two days ahead; past ones
    # attended in full, recorded by the lead.
    booking_cols = ["public_id", "created_at", "updated_at", "starts_at", "ends_at", "status", "cancelled_by"]
    booking_cols += ["cancelled_at", "late_cancellation", "attendance", "minutes_attended", "attendance_recorded_at"]
    booking_cols += ["attendance_recorded_by_id", "booked_by_id", "patient_id", "session_id", "enrollment_id"]
    members_of: list[list[int]] = [[] for _ in range(common.TRACKS)]
    for n in range(common.PATIENTS):
        members_of[track_of[n]].append(n)

    def booking(
        sid: int, n: int, start: datetime, end: datetime, minutes: int, lead: Any, by: Any, enrollment: int | None
    ) -> tuple[Any, ...]:
        patient_id = patients[n].pk
        if (sid * 7 + n * 13) % 33 == 0:
            cancelled = ("cancelled", "patient", start - timedelta(days=2), False, "", None, None, None)
            return (uuid.uuid4(), now, now, start, end, *cancelled, by.pk, patient_id, sid, enrollment)
        if end <= now:
            attended = ("booked", "", None, False, "present", minutes, end, lead.pk)
            return (uuid.uuid4(), now, now, start, end, *attended, by.pk, patient_id, sid, enrollment)
        booked = ("booked", "", None, False, "", None, None, None)
        return (uuid.uuid4(), now, now, start, end, *booked, by.pk, patient_id, sid, enrollment)

    def booking_rows() -> Iterable[tuple[Any, ...]]:
        for sid, (i, start, end, minutes) in zip(group_ids, group_rows, strict=True):
            for n in members_of[i]:
                yield booking(sid, n, start, end, minutes, leads[i][0], desk, enrollments[n].pk)
        for sid, (c, n, start, end) in zip(individual_ids, one_to_one, strict=True):
            yield booking(sid, n, start, end, 50, clinicians[c], clinicians[c], None)

    bookings = _copy(Booking, booking_cols, booking_rows())
    step(f"{bookings} bookings")


def counts() -> dict[str, int]:
    from django.db import connection

    tables = {
        "staff users": "auth_user",
        "patients": "patients_patient",
        "care-team memberships": "patients_careteammember",
        "tracks": "scheduling_grouptrack",
        "sessions": "scheduling_session",
        "session staff": "scheduling_sessionstaff",
        "bookings": "scheduling_booking",
    }
    result = {}
    with connection.cursor() as cursor:
        for label, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            (result[label],) = cursor.fetchone()
    return result


def drop_database(url: str) -> None:
    import psycopg
    from django.conf import settings
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        autocommit=True,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
    ) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db["NAME"])))
    print(f"Dropped database {db['NAME']}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reset", action="store_true", help="drop the bench database and generate it again")
    args = parser.parse_args(argv)

    url = common.database_url()
    common.check_database_name(url)
    common.setup_django(url)

    from django.core.management import call_command
    from django.db import connection, transaction

    from clinic.models import Location

    if args.reset:
        drop_database(url)
    call_command("ensure_database")
    call_command("migrate", "--noinput", verbosity=0)
    if Location.objects.filter(name=common.LOCATION_NAME).exists():
        print(f"The bench clinic is already in {common.database_name(url)}; nothing to do (--reset to start again).")
        for label, count in counts().items():
            print(f"  {label:<22} {count:>9,}")
        return 0

    print(f"Generating the bench clinic in {common.database_name(url)}:")
    started = clock.monotonic()
    with transaction.atomic():
        build(sys.stdout)
    with connection.cursor() as cursor:  # autocommit again: VACUUM may run
        cursor.execute("VACUUM ANALYZE")
    elapsed = clock.monotonic() - started
    for label, count in counts().items():
        print(f"  {label:<22} {count:>9,}")
    print(f"Done in {elapsed:.0f} s (vacuum and analyze included).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
