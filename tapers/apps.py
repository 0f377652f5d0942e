from clinic.apps import DomainAppConfig


class TapersConfig(DomainAppConfig):
    default = True
    name = "tapers"
    verbose_name = "Tapers"
