from django.urls import path
from rest_framework.routers import SimpleRouter

from scheduling.api import views, webhooks

router = SimpleRouter()
router.register("session-types", views.SessionTypeViewSet, basename="session-type")
router.register("tracks", views.GroupTrackViewSet, basename="track")
router.register("sessions", views.SessionViewSet, basename="session")
router.register("bookings", views.BookingViewSet, basename="booking")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("level-change-reviews", views.LevelChangeReviewViewSet, basename="level-change-review")
router.register("program-hours", views.ProgramHoursViewSet, basename="program-hours")
router.register("staff-tasks", views.StaffTaskViewSet, basename="staff-task")
router.register("opt-outs", views.OptOutViewSet, basename="opt-out")
router.register("calendar-feeds", views.CalendarFeedViewSet, basename="calendar-feed-token")

urlpatterns = [
    path("reminders/summary/", views.ReminderSummaryView.as_view(), name="reminder-summary"),
    path("calendar/<str:token>.ics", views.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]

# Twilio's webhooks live at the top level, not under /api/v1/: Twilio signs each request instead
# of presenting a token. clinic/urls.py mounts them with
# path("webhooks/twilio/", include(webhook_urlpatterns)).
webhook_urlpatterns = [
    path("sms/", webhooks.twilio_inbound_sms, name="twilio-inbound-sms"),
    path("status/", webhooks.twilio_status_callback, name="twilio-status-callback"),
]
