"""Attack: a coordinator adds a "colleague" in the portal with an outside address and a name,
department and title written as a phishing text, then registers them for a training and
substitutes a real colleague's seat to them. The association would mail the typed text, signed
by the secretariat, to an address the coordinator does not own. Training mail carries nothing
typed in the portal (issue 8 §6): every mail of the flow is read for it."""

from __future__ import annotations

from django.urls import reverse

from association.models import Contact
from events import services
from events.models import Registration
from tests.events.conftest import make_training

__all__ = ["make_training"]

LURE = "【重要】パスワード再設定 https://evil.example/login"
FIELDS = {
    "name": "至急 " + LURE[:40],
    "kana": "しきゅう",
    "department": "下記URLから本人確認をお願いします https://evil.example/ 事務局",
    "title": "口座番号をご返信ください",
    "phone": "0120-000-000",
    "email": "victim@outside.example.com",
    "role": "staff",
}


def typed_text_in(mail) -> list[str]:  # type: ignore[no-untyped-def]
    whole = "\n".join([mail.subject, mail.text, mail.html])
    for attachment in mail.message.iter_attachments():
        whole += attachment.get_content()
    typed = [v for k, v in FIELDS.items() if k not in ("email", "role")]
    return [t for t in [*typed, "evil.example", "口座", "至急"] if t in whole]


def test_a_coordinator_cannot_mail_typed_text_through_registration_or_substitution(
    client, make_training, alice, bob, edogawa, outbox
):
    code = edogawa.local_government_id
    training = make_training()
    other = make_training(title="令和8年度 ブロック研修会")
    services.register_for_training(other, contact=bob)
    client.force_login(alice.user)

    assert client.post(reverse("portal:contact_add", args=[code]), FIELDS).status_code == 302
    victim = Contact.objects.get(email=FIELDS["email"])
    client.post(reverse("events:detail", args=[code, training.pk]), {"contact": victim.pk})
    seat = Registration.objects.get(training=other, contact=bob)
    client.post(reverse("events:substitute", args=[code, seat.pk]), {"contact": victim.pk})
    victim_seat = Registration.objects.get(training=training, contact=victim)
    client.post(reverse("events:cancel", args=[code, victim_seat.pk]))
    services.deliver_pending_notices()

    to_victim = outbox.to(FIELDS["email"])
    assert [m.subject.split("：")[0] for m in to_victim] == [
        "【市区町村会】参加確定",
        "【市区町村会】参加者差し替え",
        "【市区町村会】申込み取消",
    ]
    to_bob = [m for m in outbox.to(bob.email) if "差し替え" in m.subject]
    assert to_bob
    for mail in [*to_victim, *to_bob]:
        assert typed_text_in(mail) == [], mail.subject
        assert "東京都江戸川区" in mail.text and "ご担当者様" in mail.text
        assert bob.name not in mail.text and alice.name not in mail.text
