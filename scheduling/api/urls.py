from django.urls import path
from rest_framework.routers import SimpleRouter

from scheduling.api import views

router = SimpleRouter()
router.register("session-types", views.SessionTypeViewSet, basename="session-type")
router.register("tracks", views.GroupTrackViewSet, basename="track")
router.register("sessions", views.SessionViewSet, basename="session")
router.register("bookings", views.BookingViewSet, basename="booking")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("level-change-reviews", views.LevelChangeReviewViewSet, basename="level-change-review")
router.register("program-hours", views.ProgramHoursViewSet, basename="program-hours")
router.register("calendar-feeds", views.CalendarFeedViewSet, basename="calendar-feed-token")

urlpatterns = [
    path("calendar/<str:token>.ics", views.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]
