from rest_framework.routers import SimpleRouter

from patients.api import views

router = SimpleRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("care-team-members", views.CareTeamMemberViewSet, basename="care-team-member")
router.register("episodes", views.EpisodeViewSet, basename="episode")
router.register("consents", views.ConsentViewSet, basename="consent")
router.register("referrals", views.ReferralViewSet, basename="referral")
router.register("intake-assessments", views.IntakeAssessmentViewSet, basename="intake-assessment")
router.register("measures", views.MeasureViewSet, basename="measure")
router.register("disclosures", views.DisclosureViewSet, basename="disclosure")

urlpatterns = router.urls
