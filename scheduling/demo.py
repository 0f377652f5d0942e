"""Demo group tracks for `make run`: a PHP day program and an IOP evening group at the demo
location, led by the demo clinician; the admitted demo patients are enrolled. Idempotent by
track name."""

from datetime import time

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.apps import Writer
from clinic.models import LevelOfCare, Location, Room
from patients.models import Patient, PatientStatus
from patients.selectors import current_level_code
from scheduling.models import GroupTrack, SessionType, Topic
from scheduling.services.tracks import enrollment_create, track_create

DEMO_TRACKS = [
    # name, level, room, rule, start, minutes, topics
    ("PHP day program", "php", "Group Room A", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", time(9), 240,
     [Topic.CBT_ANXIETY_PANIC, Topic.DBT_SKILLS, Topic.RELAPSE_PREVENTION]),
    ("IOP evening skills", "iop", "Group Room A", "FREQ=WEEKLY;BYDAY=MO,WE,TH", time(17, 30), 180,
     [Topic.CBT_I, Topic.RELAPSE_PREVENTION, Topic.PEER_SUPPORT]),
]  # fmt: skip


def seed_tracks(out: Writer) -> None:
    users = get_user_model().objects
    clinician, owner = users.filter(username="clinician").first(), users.filter(username="clinic_admin").first()
    location = Location.objects.filter(name="Main Street Office").first()
    if clinician is None or owner is None or location is None:
        return
    made = 0
    for name, level, room, rule, start, minutes, topics in DEMO_TRACKS:
        if GroupTrack.objects.filter(name=name).exists():
            continue
        track_create(
            by=owner,
            facilitators=[clinician],
            name=name,
            level=LevelOfCare.objects.get(code=level),
            location=location,
            session_type=SessionType.objects.get(code="group_therapy"),
            room=Room.objects.get(location=location, name=room),
            capacity=10,
            rrule=rule,
            starts_on=timezone.localdate(),
            start_time=start,
            duration_minutes=minutes,
            topics=topics,
        )
        made += 1
    out.write(f"Demo tracks: {made} created, {len(DEMO_TRACKS) - made} already there.\n")
    for patient in Patient.objects.filter(status=PatientStatus.ADMITTED, track_enrollments__isnull=True):
        track = GroupTrack.objects.filter(
            level__code=current_level_code(patient), name__in=[t[0] for t in DEMO_TRACKS]
        ).first()
        if track is not None:
            enrollment_create(track=track, patient=patient, by=clinician)
