import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from clinic.roles import Role, roles_of

pytestmark = pytest.mark.django_db


def test_every_role_group_exists_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


def test_front_office_roles_get_no_clinical_admin_permissions():
    billing = Group.objects.get(name=Role.BILLING)
    codenames = set(billing.permissions.values_list("codename", flat=True))
    assert "view_patient" in codenames
    assert not {"add_patient", "change_patient", "view_auditevent"} & codenames


def test_only_clinic_admins_may_read_the_audit_log_in_the_admin():
    holders = set(Group.objects.filter(permissions__codename="view_auditevent").values_list("name", flat=True))
    assert holders == {Role.CLINIC_ADMIN}


def test_syncing_again_keeps_groups_and_permissions_stable():
    before = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    call_command("migrate", verbosity=0)
    after = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert before == after


def test_roles_of_ignores_groups_that_are_not_roles(make_user):
    user = make_user(Role.NURSE)
    user.groups.add(Group.objects.create(name="book-club"))
    assert roles_of(user) == {"nurse"}
