from clinic.apps import DomainAppConfig, Writer

_CLINICAL_READ = ["view_patient"]


class PatientsConfig(DomainAppConfig):
    default = True
    name = "patients"
    verbose_name = "Patients"
    role_permissions = {
        "clinic_admin": ["view_patient", "add_patient", "change_patient"],
        "admissions": ["view_patient", "add_patient", "change_patient"],
        "billing": ["view_patient"],
        "clinician": _CLINICAL_READ,
        "prescriber": _CLINICAL_READ,
        "nurse": _CLINICAL_READ,
    }

    def seed_demo(self, out: Writer) -> None:
        from patients.demo import seed_patients

        seed_patients(out)
