import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from clinic.npi import is_valid_npi, npi_check_digit
from clinic.validators import validate_npi
from tests.clinic.factories import StaffProfileFactory

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


def test_it_accepts_the_cms_example_npi():
    # CMS's worked example: 123456789 -> check digit 3.
    assert npi_check_digit("123456789") == 3
    assert is_valid_npi("1234567893")


@pytest.mark.parametrize("value", ["1234567890", "123456789", "12345678931", "12345678a3", "", " 234567893"])
def test_it_rejects_a_wrong_check_digit_or_shape(value):
    assert not is_valid_npi(value)


@given(nine_digits)
def test_appending_the_check_digit_always_gives_a_valid_npi(first_nine):
    assert is_valid_npi(first_nine + str(npi_check_digit(first_nine)))


@given(nine_digits, st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_any_single_mistyped_digit_is_caught(first_nine, position, shift):
    npi = first_nine + str(npi_check_digit(first_nine))
    mistyped = npi[:position] + str((int(npi[position]) + shift) % 10) + npi[position + 1 :]
    assert not is_valid_npi(mistyped)


@given(nine_digits, st.integers(min_value=0, max_value=7))
def test_swapping_two_adjacent_different_digits_is_caught(first_nine, position):
    npi = first_nine + str(npi_check_digit(first_nine))
    a, b = npi[position], npi[position + 1]
    # Luhn misses only the 0<->9 swap.
    if a == b or {a, b} == {"0", "9"}:
        return
    swapped = npi[:position] + b + a + npi[position + 2 :]
    assert not is_valid_npi(swapped)


def test_the_validator_says_what_is_wrong():
    with pytest.raises(ValidationError, match="exactly 10 digits"):
        validate_npi("12345")
    with pytest.raises(ValidationError, match="check digit"):
        validate_npi("1234567890")


@pytest.mark.django_db
def test_a_staff_profile_with_a_bad_npi_does_not_validate():
    profile = StaffProfileFactory.create(npi="")
    profile.npi = "1234567890"
    with pytest.raises(ValidationError) as error:
        profile.full_clean()
    assert "npi" in error.value.message_dict
