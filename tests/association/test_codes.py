import pytest
from django.core.exceptions import ValidationError

from association.codes import check_digit, normalise_code
from association.services import find_local_government


def test_it_computes_the_check_digit_of_edogawa():
    assert check_digit("13123") == "7"


def test_it_completes_a_five_digit_code_with_its_check_digit():
    assert normalise_code("13123") == "131237"


def test_it_accepts_full_width_digits_and_spaces():
    assert normalise_code("　１３１２３７ ") == "131237"


def test_it_restores_the_leading_zero_a_spreadsheet_dropped():
    assert normalise_code("1100") == "011002"


def test_it_refuses_a_wrong_check_digit_saying_which_digit_is_expected():
    with pytest.raises(ValidationError) as exc:
        normalise_code("131230")
    assert "検査数字" in exc.value.messages[0]
    assert "7" in exc.value.messages[0]


def test_it_refuses_letters():
    with pytest.raises(ValidationError) as exc:
        normalise_code("13A237")
    assert "数字以外" in exc.value.messages[0]


def test_it_refuses_a_code_with_a_valid_digit_that_is_not_in_the_list(registry):
    code = "99999" + check_digit("99999")
    with pytest.raises(ValidationError) as exc:
        find_local_government(code)
    assert "一覧にありません" in exc.value.messages[0]


def test_every_code_in_the_shipped_list_passes_its_check_digit(registry):
    from association.models import LocalGovernment

    codes = list(LocalGovernment.objects.values_list("code", flat=True))
    assert len(codes) == 1788
    assert all(normalise_code(code) == code for code in codes)
