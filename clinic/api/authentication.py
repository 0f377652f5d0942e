import re

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

# Knox tokens are hex; anything else (NUL bytes, spaces, kilobytes of junk) is refused
# before it reaches a database query that would choke on it.
_TOKEN_SHAPE = re.compile(rb"^[0-9a-fA-F]{8,128}$")


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes):  # type: ignore[no-untyped-def]
        if not _TOKEN_SHAPE.match(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """Documents our token authentication in the OpenAPI schema as knox's own."""

    target_class = "clinic.api.authentication.TokenAuthentication"
    name = "tokenAuth"
