"""The tapers API: one module per area, each with its own urlpatterns."""

from tapers.api import coordination, ledger, plans

urlpatterns = [*ledger.urlpatterns, *plans.urlpatterns, *coordination.urlpatterns]
