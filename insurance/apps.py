from clinic.apps import DomainAppConfig


class InsuranceConfig(DomainAppConfig):
    default = True
    name = "insurance"
    verbose_name = "Insurance"
