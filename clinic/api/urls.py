from django.urls import path
from rest_framework.routers import SimpleRouter

from clinic.api import views

router = SimpleRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("rooms", views.RoomViewSet, basename="room")
router.register("staff", views.StaffViewSet, basename="staff")
router.register("levels-of-care", views.LevelOfCareViewSet, basename="level-of-care")

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    *router.urls,
]
