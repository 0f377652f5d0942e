import re
from functools import cache
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

from clinic.db import fetch_prepared
from clinic.roles import remember_roles

# Knox tokens are hex; anything else (NUL bytes, spaces, kilobytes of junk) is refused
# before it reaches a database query that would choke on it.
_TOKEN_SHAPE = re.compile(rb"^[0-9a-fA-F]{8,128}$")


@cache
def _token_query() -> tuple[str, list[str], list[str]]:
    """The token, its user and the user's role names in one statement, with the attribute
    names of the columns it selects (every table and column name read from the models, so a
    changed model changes the query)."""
    user_model = get_user_model()
    token_fields, user_fields = AuthToken._meta.concrete_fields, user_model._meta.concrete_fields
    groups = user_model._meta.get_field("groups")
    memberships = groups.remote_field.through._meta  # type: ignore[union-attr]
    quote = connection.ops.quote_name

    def column(model: Any, name: str) -> str:
        return quote(str(model._meta.get_field(name).column))

    selected = [f"t.{quote(str(f.column))}" for f in token_fields] + [f"u.{quote(str(f.column))}" for f in user_fields]
    # Names from the models' metadata, quoted; the token is a parameter.
    sql = (
        f"SELECT {', '.join(selected)}, "  # noqa: S608
        f"ARRAY(SELECT g.{column(Group, 'name')} FROM {quote(Group._meta.db_table)} g "
        f"JOIN {quote(memberships.db_table)} m ON m.{quote(groups.m2m_reverse_name())} = g.{column(Group, 'id')} "
        f"WHERE m.{quote(groups.m2m_column_name())} = u.{quote(str(user_model._meta.pk.column))}) "
        f"FROM {quote(AuthToken._meta.db_table)} t "
        f"JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(str(user_model._meta.pk.column))} = t.{column(AuthToken, 'user')} "
        f"WHERE t.{column(AuthToken, 'token_key')} = %s"
    )
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check in one prepared query: the token, its user and the user's roles.

    Knox itself also walks every other token of the user on each request to delete the
    expired ones (a second query, and a third for the roles). Here an expired token is
    refused and deleted when it is presented, and the others are swept by the daily
    `clinic.tasks.delete_expired_tokens`; the rest (hashing, constant-time comparison,
    sliding expiry with AUTO_REFRESH, inactive users refused) is knox's own. The query runs
    on every API request, so it is one constant statement prepared per connection
    (clinic/db.py) rather than an ORM query compiled and planned each time.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        invalid = exceptions.AuthenticationFailed("Invalid token.")
        if not _TOKEN_SHAPE.match(token):
            raise invalid
        text = token.decode("ascii")
        digest = hash_token(text)
        sql, token_columns, user_columns = _token_query()
        for row in fetch_prepared(sql, [text[: CONSTANTS.TOKEN_KEY_LENGTH]]):
            auth_token = AuthToken.from_db(connection.alias, token_columns, row[: len(token_columns)])
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                auth_token.delete()
                raise invalid
            user_values = row[len(token_columns) : len(token_columns) + len(user_columns)]
            auth_token.user = get_user_model().from_db(connection.alias, user_columns, user_values)
            self.renew_token(auth_token)
            user, auth_token = self.validate_user(auth_token)
            remember_roles(user, row[-1])
            return user, auth_token
        raise invalid


class TokenScheme(KnoxTokenScheme):
    """Documents our token authentication in the OpenAPI schema as knox's own."""

    target_class = "clinic.api.authentication.TokenAuthentication"
    name = "tokenAuth"
