"""Demo data of the clinic app: a location with rooms and one user per role."""

from datetime import date
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from clinic.apps import Writer
from clinic.models import Accreditation, Location, Room, StaffProfile
from clinic.roles import Role

# Published on purpose: these accounts exist only on demo databases (seed_demo refuses
# to run with DEBUG off).
DEMO_PASSWORD_SUFFIX = "-demo-pass"  # noqa: S105 - published demo credentials

# (username, first, last, role, credentials, NPI). The NPIs pass the check digit and
# are invented; they belong to nobody we know of.
DEMO_STAFF = [
    ("admin", "Alex", "Admin", None, "", ""),
    ("clinic_admin", "Morgan", "Director", Role.CLINIC_ADMIN, "MBA", ""),
    ("admissions", "Sam", "Intake", Role.ADMISSIONS, "", ""),
    ("clinician", "Taylor", "Therapist", Role.CLINICIAN, "LCSW", "1234567893"),
    ("prescriber", "Jamie", "Psychiatrist", Role.PRESCRIBER, "MD", "1245319599"),
    ("nurse", "Robin", "Nurse", Role.NURSE, "RN", ""),
    ("billing", "Drew", "Billing", Role.BILLING, "", ""),
]


def demo_password(username: str) -> str:
    return f"{username}{DEMO_PASSWORD_SUFFIX}"


def seed_clinic(out: Writer) -> None:
    location, _ = Location.objects.get_or_create(
        name="Main Street Office",
        defaults={
            "address_line1": "100 Main Street",
            "city": "Springfield",
            "state": "MA",
            "postal_code": "01103",
            "time_zone": ZoneInfo("America/New_York"),
            "state_license_number": "DEMO-0001",
            "state_license_expires": date(2027, 6, 30),
            "accreditation_body": Accreditation.JOINT_COMMISSION,
            "accreditation_expires": date(2028, 3, 31),
        },
    )
    for name, capacity, virtual in [("Group Room A", 12, False), ("Office 1", 3, False), ("Telehealth", 15, True)]:
        Room.objects.get_or_create(location=location, name=name, defaults={"capacity": capacity, "is_virtual": virtual})

    User = get_user_model()
    out.write("Demo users (username / password):\n")
    for username, first, last, role, credentials, npi in DEMO_STAFF:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org", "is_staff": True},
        )
        if created:
            user.is_superuser = role is None
            user.set_password(demo_password(username))
            user.save()
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        StaffProfile.objects.get_or_create(
            user=user,
            defaults={"credentials": credentials, "npi": npi, "primary_location": location},
        )
        out.write(f"  {username:<13} {demo_password(username):<26} {role or 'superuser'}\n")
