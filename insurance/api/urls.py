from insurance.api.views import urlpatterns

__all__ = ["urlpatterns"]
