from clinic.apps import DomainAppConfig, Writer

_MODELS = (
    "payer",
    "coverage",
    "paymentplan",
    "eligibilitycheck",
    "authorization",
    "authorizationreview",
    "billingalert",
)
_READ = [f"view_{model}" for model in _MODELS]
# Writes in the admin go through the same services as the API (insurance.admin).
_WRITE = [
    "add_payer",
    "change_payer",
    "add_coverage",
    "change_coverage",
    "add_paymentplan",
    "add_eligibilitycheck",
    "add_authorization",
    "change_authorization",
    "add_authorizationreview",
    "change_billingalert",
]


class InsuranceConfig(DomainAppConfig):
    default = True
    name = "insurance"
    verbose_name = "Insurance"
    # DESIGN.md roles: admissions verify insurance at intake; billing and utilization review keep
    # coverage, eligibility and authorizations. Clinical staff use the API (care team only).
    role_permissions = {
        "clinic_admin": [*_READ, *_WRITE],
        "admissions": [*_READ, *_WRITE],
        "billing": [*_READ, *_WRITE],
    }

    def seed_demo(self, out: Writer) -> None:
        from insurance.demo import seed_insurance

        seed_insurance(out)

    def ready(self) -> None:
        super().ready()
        from insurance import receivers  # noqa: F401  (connects to patients' signals)
