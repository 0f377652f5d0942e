from django.core.exceptions import ValidationError

from clinic.npi import is_valid_npi


def validate_npi(value: str) -> None:
    if not (len(value) == 10 and value.isdigit()):
        raise ValidationError("An NPI is exactly 10 digits.", code="npi_format")
    if not is_valid_npi(value):
        raise ValidationError(
            "This NPI fails its check digit; look for a mistyped digit.",
            code="npi_check_digit",
        )
