import pytest
from django.core.exceptions import ValidationError

from mailing.rendering import compile_body, validate_placeholders

BODY = """いつもお世話になっております。{{ 団体名 }}の{{ 氏名 }}様。

研修会の資料は https://renkei.example.jp/files/2026-kenshu.pdf に掲載しました。

- 会場: [江戸川区役所](https://www.city.edogawa.tokyo.jp/map)
- 申込: <https://renkei.example.jp/trainings/12/>

<script>alert("x")</script><img src="https://tracker.example/x.gif" onerror="alert(1)">
"""


def test_it_prints_every_url_in_full_on_its_own_line_in_the_plain_text():
    text = compile_body(BODY).text

    lines = text.splitlines()
    assert "https://renkei.example.jp/files/2026-kenshu.pdf" in lines
    assert "https://www.city.edogawa.tokyo.jp/map" in lines
    assert "https://renkei.example.jp/trainings/12/" in lines
    assert "・会場: 江戸川区役所" in lines
    assert "<" not in text


def test_it_sanitises_the_html_and_links_bare_urls():
    html = compile_body(BODY).html

    assert "<script" not in html
    assert "<img" not in html
    assert "onerror" not in html
    assert '<a href="https://renkei.example.jp/files/2026-kenshu.pdf"' in html


def test_it_substitutes_placeholders_escaping_them_in_html_only():
    text, html = compile_body(BODY).for_recipient({"団体名": "東京都<江戸川区>", "氏名": "佐藤"})

    assert "東京都<江戸川区>の佐藤様" in text
    assert "東京都&lt;江戸川区&gt;の佐藤様" in html


@pytest.mark.parametrize(
    "body",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ contact.user.password }}",
        "{{ 宛名 }}",
        "{% load static %}",
        "{{氏名}} {{ 不明 }}",
    ],
)
def test_it_refuses_anything_but_the_documented_placeholders(body):
    with pytest.raises(ValidationError):
        validate_placeholders(body)


def test_it_accepts_the_documented_placeholders_with_or_without_spaces():
    validate_placeholders("{{ 団体名 }} {{氏名}} {{  所属 }} {{ 配信停止URL }} {{ リスト名 }}")
