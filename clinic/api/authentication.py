import re
from hmac import compare_digest
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

from clinic.roles import remember_roles

# Knox tokens are hex; anything else (NUL bytes, spaces, kilobytes of junk) is refused
# before it reaches a database query that would choke on it.
_TOKEN_SHAPE = re.compile(rb"^[0-9a-fA-F]{8,128}$")


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check in one query: the token, its user and the user's roles together.

    Knox itself also walks every other token of the user on each request to delete the
    expired ones (a second query, and a third for the roles). Here an expired token is
    refused and deleted when it is presented, and the others are swept by the daily
    `clinic.tasks.delete_expired_tokens`; the rest (hashing, constant-time comparison,
    sliding expiry with AUTO_REFRESH, inactive users refused) is knox's own.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        invalid = exceptions.AuthenticationFailed("Invalid token.")
        if not _TOKEN_SHAPE.match(token):
            raise invalid
        text = token.decode("ascii")
        digest = hash_token(text)
        roles = ArraySubquery(Group.objects.filter(user=OuterRef("user_id")).values("name"))
        candidates = (
            AuthToken.objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
            .annotate(role_names=roles)
        )
        for auth_token in candidates:
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                auth_token.delete()
                raise invalid
            self.renew_token(auth_token)
            user, auth_token = self.validate_user(auth_token)
            remember_roles(user, auth_token.role_names)
            return user, auth_token
        raise invalid


class TokenScheme(KnoxTokenScheme):
    """Documents our token authentication in the OpenAPI schema as knox's own."""

    target_class = "clinic.api.authentication.TokenAuthentication"
    name = "tokenAuth"
