"""National Provider Identifier check digit (pure, no Django).

An NPI is 10 digits; the last is a Luhn check digit computed over the first nine with
the ISO card-issuer prefix 80840 in front (CMS, "Requirements for Check Digit
Algorithm for the National Provider Identifier", 2005). Adding the prefix's fixed
contribution, 24, to the Luhn sum of the nine digits gives the same result.
"""

NPI_LUHN_PREFIX_SUM = 24


def npi_check_digit(first_nine: str) -> int:
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("An NPI check digit is computed from exactly nine digits.")
    total = NPI_LUHN_PREFIX_SUM
    # Double every other digit from the right-most of the nine, as Luhn does once the
    # check digit is appended.
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    if len(value) != 10 or not value.isdigit():
        return False
    return npi_check_digit(value[:9]) == int(value[9])
