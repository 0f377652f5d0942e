"""Tapers' Celery tasks (thin entry points), one module per area, imported so the worker registers them."""

from tapers.tasks import coordination, ledger, plans  # noqa: F401
