"""The tapers admin, read-only views, one module per area (imported so Django registers them)."""

from tapers.admin import catalogue, coordination, ledger, plans  # noqa: F401
