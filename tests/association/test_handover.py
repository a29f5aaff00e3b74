import pytest

from association import services
from association.models import AuditEntry, Contact


@pytest.mark.django_db(transaction=True)
def test_it_hands_over_to_a_new_person_and_a_real_worker_welcomes_them(
    celery_worker, alice, bob, outbox
):
    successor = services.hand_over_contact(
        alice, name="田中 翔", kana="たなか しょう", email="Sho.Tanaka@City.Edogawa.example.jp"
    )

    alice.refresh_from_db()
    assert not alice.is_active
    assert alice.successor == successor
    assert successor.role == Contact.Role.COORDINATOR
    assert successor.email == "sho.tanaka@city.edogawa.example.jp"
    assert successor.department == alice.department
    assert AuditEntry.objects.filter(action="contact_handed_over").count() == 1
    celery_worker.wait_for(lambda: len(outbox.to(successor.email)) == 1)
    mail = outbox.to(successor.email)[0]
    assert "担当者登録のお知らせ（東京都江戸川区）" in mail.subject
    assert "東京都江戸川区の取りまとめ担当として会員名簿に登録されました" in mail.text
    # Nothing typed in the portal goes to the new address (tests/security/test_welcome_mail_phishing.py).
    assert "田中" not in mail.text and "佐藤" not in mail.text
    assert len(outbox) == 1
