from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import selectors
from clinic.api.authentication import TokenAuthentication
from clinic.api.filters import RoomFilter, StaffFilter
from clinic.api.serializers import (
    LevelOfCareOutputSerializer,
    LocationOutputSerializer,
    MeOutputSerializer,
    RoomOutputSerializer,
    StaffOutputSerializer,
    TokenObtainInputSerializer,
    TokenOutputSerializer,
)
from clinic.api.viewsets import ReadOnlyViewSet
from clinic.errors import ApplicationError
from clinic.security import SecondFactorRefused, second_factor_check


class TokenObtainView(APIView):
    """Exchange a username and password (and the authenticator code of a user who has one)
    for an API token.

    Failed logins count toward the lockout (django-axes, per username and address): once
    locked, this answers 429 in the error shape (clinic.security.lockout_response).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenObtainInputSerializer, responses={200: TokenOutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None or not user.is_active:
            raise ApplicationError(
                "Unable to log in with that username and password. Check both; ask a clinic "
                "administrator if your account is locked or inactive.",
                status_code=status.HTTP_400_BAD_REQUEST,
            )
        try:
            # The second factor is the admin's and the API's alike, or a token would get round it.
            second_factor_check(
                user=user,
                token=data.validated_data.get("otp_token", ""),
                request=request._request,
            )
        except SecondFactorRefused as refused:
            raise ApplicationError(refused.message, extra={"code": refused.code}) from None
        instance, token = AuthToken.objects.create(user=user)
        # Only now is the login complete: django-axes clears this username's failures from this address.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response(TokenOutputSerializer({"token": token, "expiry": instance.expiry}).data)


class LogoutView(APIView):
    """Revoke the token this request was made with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the calling user (a lost laptop, a shared password)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        AuthToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the token belongs to, and their roles."""

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeOutputSerializer(request.user).data)


class LocationViewSet(ReadOnlyViewSet):
    serializer_class = LocationOutputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.location_list()


class RoomViewSet(ReadOnlyViewSet):
    serializer_class = RoomOutputSerializer
    filterset_class = RoomFilter

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.room_list()


class StaffViewSet(ReadOnlyViewSet):
    serializer_class = StaffOutputSerializer
    filterset_class = StaffFilter

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.staff_list()


class LevelOfCareViewSet(ReadOnlyViewSet):
    serializer_class = LevelOfCareOutputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.level_of_care_list()
