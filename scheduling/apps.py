from clinic.apps import DomainAppConfig


class SchedulingConfig(DomainAppConfig):
    default = True
    name = "scheduling"
    verbose_name = "Scheduling"
