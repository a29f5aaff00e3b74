"""全国地方公共団体コード: the 6-digit code of a local government (JIS X 0401/0402 + check digit)."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def check_digit(first_five: str) -> str:
    """The check digit of a 5-digit code: weights 6..2, r = sum mod 11, digit = (11 - r) mod 10."""
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def normalise_code(raw: object) -> str:
    """Return the 6-digit code for RAW, completing a 5-digit code with its check digit.

    Accepts full-width digits, surrounding spaces and numbers that lost their leading zero in
    a spreadsheet (e.g. 13123 for 東京都江戸川区 as "131237" without its check digit).
    Raises ValidationError naming what is wrong. Whether the code exists is checked elsewhere.
    """
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    text = text.replace("-", "").replace(" ", "")
    if text.endswith(".0"):  # a number read from Excel
        text = text[:-2]
    if not text:
        raise ValidationError(_("団体コードが空です。"), code="empty")
    if not text.isdigit():
        raise ValidationError(
            _("団体コード「%(code)s」に数字以外の文字が含まれています。") % {"code": text},
            code="not_digits",
        )
    if len(text) == 4:  # a 5-digit code whose leading zero a spreadsheet dropped
        text = "0" + text
    if len(text) == 5:
        return text + check_digit(text)
    if len(text) == 6:
        expected = check_digit(text[:5])
        if text[5] != expected:
            raise ValidationError(
                _(
                    "団体コード「%(code)s」の検査数字が正しくありません"
                    "（末尾は %(expected)s のはずです）。"
                )
                % {"code": text, "expected": expected},
                code="check_digit",
            )
        return text
    raise ValidationError(
        _("団体コード「%(code)s」は5桁または6桁で入力してください。") % {"code": text},
        code="length",
    )
