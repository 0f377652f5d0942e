from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from knox.models import AuthToken

from clinic.roles import Role
from clinic.tasks import delete_expired_tokens
from tests.clinic.factories import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/auth/me/"

pytestmark = pytest.mark.django_db


def test_it_issues_a_token_for_good_credentials(api_client, make_user):
    user = make_user(Role.NURSE, username="nurse1")
    response = api_client.post(TOKEN_URL, {"username": "nurse1", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["expiry"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = api_client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert me.json()["roles"] == ["nurse"]


def test_it_refuses_a_wrong_password_in_the_error_shape(api_client, make_user):
    make_user(Role.NURSE, username="nurse1")
    response = api_client.post(TOKEN_URL, {"username": "nurse1", "password": "wrong"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert "username and password" in body["message"]
    assert AuthToken.objects.count() == 0


def test_it_refuses_an_inactive_user(api_client, make_user):
    make_user(Role.NURSE, username="gone", is_active=False)
    response = api_client.post(TOKEN_URL, {"username": "gone", "password": PASSWORD}, format="json")
    assert response.status_code == 400


def test_it_names_the_missing_fields(api_client, db):
    response = api_client.post(TOKEN_URL, {"username": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["extra"]["fields"] == {"password": ["This field is required."]}
    assert body["message"]


def test_it_answers_401_without_credentials(api_client, db):
    response = api_client.get(ME_URL)
    assert response.status_code == 401
    assert response.json() == {"message": "Authentication credentials were not provided.", "extra": {}}
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize(
    "header",
    ["Token", "Token not-a-real-token", "Token a b", "Token " + "f" * 64, "Bearer abc", "Token \x00\x01"],
)
def test_it_answers_401_for_a_malformed_or_unknown_token(api_client, db, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get(ME_URL)
    assert response.status_code == 401
    assert set(response.json()) == {"message", "extra"}


def test_logout_revokes_only_the_token_used(api_client, make_user, client_for):
    user = make_user(Role.CLINICIAN)
    laptop, phone = client_for(user), client_for(user)
    assert laptop.post("/api/v1/auth/logout/").status_code == 204
    assert laptop.get(ME_URL).status_code == 401
    assert phone.get(ME_URL).status_code == 200


def test_logout_all_revokes_every_token_of_the_user(make_user, client_for):
    user, colleague = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    laptop, phone, other = client_for(user), client_for(user), client_for(colleague)
    assert laptop.post("/api/v1/auth/logout-all/").status_code == 204
    assert laptop.get(ME_URL).status_code == 401
    assert phone.get(ME_URL).status_code == 401
    assert other.get(ME_URL).status_code == 200


def test_a_user_without_a_role_cannot_read_clinic_data(make_user, client_for):
    client = client_for(make_user())
    response = client.get("/api/v1/locations/")
    assert response.status_code == 403
    assert "no role" in response.json()["message"]


def test_an_expired_token_is_refused_and_deleted(make_user, client_for):
    user = make_user(Role.CLINICIAN)
    client = client_for(user)
    with time_machine.travel(timezone.now() + timedelta(hours=11)):
        response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid token."
    assert not AuthToken.objects.filter(user=user).exists()


def test_using_a_token_slides_its_expiry(make_user, client_for):
    user = make_user(Role.CLINICIAN)
    client = client_for(user)
    first_expiry = AuthToken.objects.get(user=user).expiry
    with time_machine.travel(timezone.now() + timedelta(hours=9)):
        assert client.get(ME_URL).status_code == 200
    assert AuthToken.objects.get(user=user).expiry > first_expiry + timedelta(hours=8)
    with time_machine.travel(timezone.now() + timedelta(hours=18)):
        assert client.get(ME_URL).status_code == 200


def test_a_token_of_a_user_made_inactive_is_refused(make_user, client_for):
    user = make_user(Role.CLINICIAN)
    client = client_for(user)
    user.is_active = False
    user.save()
    assert client.get(ME_URL).status_code == 401


def test_a_request_reads_token_user_and_roles_in_one_query(make_user, client_for, django_assert_num_queries):
    user = make_user(Role.CLINICIAN, Role.NURSE)
    client = client_for(user)
    client.get(ME_URL)  # the first use may slide the expiry (an UPDATE); the second does not
    with django_assert_num_queries(1):
        response = client.get(ME_URL)
    assert response.json()["roles"] == ["clinician", "nurse"]


def test_the_nightly_sweep_deletes_only_expired_tokens(make_user, client_for):
    stale, fresh = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    client_for(stale)
    with time_machine.travel(timezone.now() + timedelta(hours=11)):
        client = client_for(fresh)
        assert delete_expired_tokens() == 1
        assert delete_expired_tokens() == 0
        assert client.get(ME_URL).status_code == 200
    assert list(AuthToken.objects.values_list("user", flat=True)) == [fresh.pk]


# --- Revocation when the credentials change ----------------------------------------------------
# A clinic expects a new password (the old one was shared, a laptop was lost) and a closed
# account (someone left) to end every way in: the API's tokens here, the admin's sessions by
# Django's own session hash and inactive-user checks.


def test_a_new_password_revokes_every_api_token_and_admin_session_of_the_user(make_user, client_for, client):
    user, colleague = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    laptop, phone, other = client_for(user), client_for(user), client_for(colleague)
    client.force_login(user)
    user.set_password("a-new-long-passphrase-91")
    user.save()
    assert laptop.get(ME_URL).status_code == 401
    assert phone.get(ME_URL).status_code == 401
    assert other.get(ME_URL).status_code == 200
    assert client.get("/admin/").status_code == 302
    assert not AuthToken.objects.filter(user=user).exists()


def test_the_admins_change_password_form_revokes_the_users_tokens(make_user, client_for, client):
    user = make_user(Role.CLINICIAN)
    laptop = client_for(user)
    client.force_login(make_user(is_superuser=True))
    response = client.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": "a-new-long-passphrase-91", "password2": "a-new-long-passphrase-91", "usable_password": "true"},
    )
    assert response.status_code == 302
    assert laptop.get(ME_URL).status_code == 401


def test_closing_an_account_deletes_its_tokens_and_ends_its_admin_session(make_user, client_for, client):
    user = make_user(Role.CLINICIAN)
    laptop = client_for(user)
    client.force_login(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not AuthToken.objects.filter(user=user).exists()
    assert laptop.get(ME_URL).status_code == 401
    assert client.get("/admin/").status_code == 302


def test_logging_in_again_keeps_the_users_other_tokens(api_client, make_user, client_for):
    user = make_user(Role.NURSE, username="nurse1")
    laptop = client_for(user)
    assert api_client.post(TOKEN_URL, {"username": "nurse1", "password": PASSWORD}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None  # a save of the user that is not a new password
    assert laptop.get(ME_URL).status_code == 200
    assert AuthToken.objects.filter(user=user).count() == 2


def test_a_password_hash_upgraded_at_login_revokes_nothing(make_user, client_for, settings):
    user = make_user(Role.NURSE)
    laptop = client_for(user)
    # A new preferred hasher: the next password check rehashes and saves the password field.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    old_hash = user.password
    assert user.check_password(PASSWORD)
    user.refresh_from_db()
    assert user.password != old_hash
    assert laptop.get(ME_URL).status_code == 200
