from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic import errors, health
from scheduling.api.urls import webhook_urlpatterns

api_v1 = [
    path("", include("clinic.api.urls")),
    path("", include("patients.api.urls")),
    path("", include("scheduling.api.urls")),
    path("", include("tapers.api.urls")),
    path("", include("insurance.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    # Twilio's inbound-text and delivery-status webhooks (signed; no login).
    path("webhooks/twilio/", include(webhook_urlpatterns)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Anything else under /api/ is a JSON 404 in the one error shape, never an HTML page.
    # [\s\S], not ".": a path with a newline in it (/api/v1/staff/%0A/) is under /api/ too.
    re_path(r"^api(/[\s\S]*)?$", errors.api_not_found),
]


# Django's own error pages, for errors raised before a view runs (a bad Host header, too
# many fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE): JSON in the one shape under /api/.
def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    return errors.bad_request(request, exception) if _is_api(request) else defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return errors.permission_denied(request, exception)
    return defaults.permission_denied(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    # PostgreSQL down or restarting (an admin page, a session lookup in a middleware): a 503
    # with Retry-After; the API's own views answer it through the DRF exception handler.
    if errors.database_unavailable_now():
        return errors.service_unavailable(request, html=not _is_api(request))
    return errors.server_error(request) if _is_api(request) else defaults.server_error(request)
