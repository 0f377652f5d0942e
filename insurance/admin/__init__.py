"""The insurance admin, one module per area (imported so Django registers them): payers,
coverages and payment plans; eligibility checks; authorizations and the billing work queue."""

from insurance.admin import authorizations, coverage, eligibility  # noqa: F401
