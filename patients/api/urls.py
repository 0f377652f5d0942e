from rest_framework.routers import SimpleRouter

from patients.api import views

router = SimpleRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("care-team-members", views.CareTeamMemberViewSet, basename="care-team-member")
router.register("episodes", views.EpisodeViewSet, basename="episode")

urlpatterns = router.urls
