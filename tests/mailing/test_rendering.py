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


def test_a_url_with_a_placeholder_is_never_split_in_the_text_part():
    from mailing.builder import Composer, Recipient
    from mailing.models import Bulletin, MailingList

    body = (
        "申込: https://forms.example.jp/apply?org={{ 団体名 }}&dept={{ 所属 }}\n\n"
        "[回答フォーム](https://forms.example.jp/q?m={{ メールアドレス }}) から。\n\n"
        "本文中の https://forms.example.jp/{{ 氏名 }}/ も。"
    )
    bulletin = Bulletin(pk=1, mailing_list=MailingList(pk=1, name="全会員"), body=body)
    recipient = Recipient(
        email="a+b@city.example.jp",
        name="佐藤 美咲",
        organisation="東京都 江戸川区",
        department="健康部\n保健予防課 & 相談係",
        token="A" * 22,
    )
    built = Composer(bulletin).build(recipient)

    lines = built.text.splitlines()
    org = "%E6%9D%B1%E4%BA%AC%E9%83%BD%20%E6%B1%9F%E6%88%B8%E5%B7%9D%E5%8C%BA"
    dept = "%E5%81%A5%E5%BA%B7%E9%83%A8%0A%E4%BF%9D%E5%81%A5%E4%BA%88%E9%98%B2%E8%AA%B2"
    assert (
        f"https://forms.example.jp/apply?org={org}&dept={dept}%20%26%20%E7%9B%B8%E8%AB%87%E4%BF%82"
        in lines
    )
    assert "https://forms.example.jp/q?m=a%2Bb%40city.example.jp" in lines
    assert "https://forms.example.jp/%E4%BD%90%E8%97%A4%20%E7%BE%8E%E5%92%B2/" in lines
    # The HTML link goes to the same address, and no value breaks out of the attribute.
    assert 'href="https://forms.example.jp/q?m=a%2Bb%40city.example.jp"' in built.html
    assert "{{" not in built.text and "{{" not in built.html
