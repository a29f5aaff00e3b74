"""The compiled SMTP path produces the same message as Django's, recipient by recipient."""

import email
import email.policy
from email.message import EmailMessage

import pytest
from django.core.mail import get_connection

from mailing import services
from mailing.sending import CompiledMessage, Composer, Recipient


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


@pytest.mark.django_db
def test_it_compiles_the_same_message_django_builds(all_members_list, alice):
    bulletin = services.save_bulletin(
        None,
        mailing_list=all_members_list,
        subject="研修会のご案内",
        body="{{ 団体名 }} {{ 氏名 }} 様 <b>\n\n詳細: https://renkei.example.jp/x?a=1&b=2",
    )
    composer = Composer(bulletin)
    recipient = Recipient(
        email=alice.email,
        name="佐藤 <美咲>",
        organisation="東京都江戸川区",
        department="健康部",
        delivery_id=42,
    )
    compiled = CompiledMessage.compile(composer)
    assert compiled is not None

    raw = compiled.render(recipient) or b""
    assert raw.count(b"\n") == raw.count(b"\r\n")  # SMTP wants CRLF everywhere
    fast = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    slow_bytes = composer.message(recipient, connection=get_connection()).message().as_bytes()
    slow = email.message_from_bytes(slow_bytes, policy=email.policy.default)

    for header in ("Subject", "To", "From", "Message-ID", "List-Id", "List-Unsubscribe-Post"):
        assert str(fast[header]) == str(slow[header]), header
    # The token is signed with a timestamp: compare the URLs up to it.
    assert (
        fast["List-Unsubscribe"].split("/unsubscribe/")[0]
        == slow["List-Unsubscribe"].split("/unsubscribe/")[0]
    )
    fast_text = _part(fast, "plain")
    slow_text = _part(slow, "plain")
    assert fast_text.split("配信を停止")[0] == slow_text.split("配信を停止")[0]
    assert "東京都江戸川区\n健康部\n佐藤 <美咲> 様" in fast_text
    fast_html = _part(fast, "html")
    assert "佐藤 &lt;美咲&gt; 様" in fast_html
    assert fast_html.split("配信を停止")[0] == _part(slow, "html").split("配信を停止")[0]


@pytest.mark.django_db
def test_it_leaves_a_subject_with_placeholders_to_django(all_members_list):
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="{{ 団体名 }}様へのご案内", body="本文"
    )

    assert CompiledMessage.compile(Composer(bulletin)) is None
