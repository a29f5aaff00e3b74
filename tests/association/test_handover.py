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
    assert "担当者変更のお知らせ" in mail.subject
    assert "田中 翔 様" in mail.text
    assert "佐藤 美咲 様から担当を引き継がれた" in mail.text
    assert len(outbox) == 1
