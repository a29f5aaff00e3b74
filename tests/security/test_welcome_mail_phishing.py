"""Attack: a coordinator hands the role over to any outside address and types the successor's
name, department and title as a phishing text; the association would mail it, signed by the
secretariat. The welcome carries nothing typed in the portal (issue 8 §6)."""

from __future__ import annotations

from django.urls import reverse

from association.models import Contact

LURE = "【重要】パスワード再設定 https://evil.example/login"
FIELDS = {
    "name": "至急 " + LURE[:40],
    "kana": "しきゅう",
    "department": "下記URLから本人確認をお願いします https://evil.example/ 事務局",
    "title": "口座番号をご返信ください",
    "phone": "0120-000-000",
    "email": "victim@outside.example.com",
}


def test_a_coordinator_cannot_mail_typed_text_to_an_outside_address(
    client, alice, bob, edogawa, outbox
):
    client.force_login(alice.user)
    url = reverse("portal:hand_over", args=[edogawa.local_government_id, bob.pk])
    response = client.post(url, FIELDS)
    assert response.status_code == 302
    assert Contact.objects.filter(email=FIELDS["email"]).exists()

    [mail] = outbox.to(FIELDS["email"])  # queued in the hand-over, sent by the postbox
    whole = "\n".join([mail.subject, mail.text, mail.html])
    for typed in [*FIELDS.values(), bob.name, "evil.example", "口座", "至急"]:
        if typed != FIELDS["email"]:
            assert typed not in whole, typed
    assert "東京都江戸川区" in mail.text
    assert "ご担当者様" in mail.text
    assert "様 様" not in mail.text and "御中" not in mail.text
    assert "担当者として会員名簿に登録されました" in mail.text
    assert "http://localhost:8000/portal/" in mail.text.splitlines()
    assert "jimukyoku@renkei.example.jp" in mail.text
