import pytest
from django.urls import reverse

from association import services as association
from events import services
from events.models import Registration


def list_url(member):
    return reverse("events:member", args=[member.local_government_id])


def detail_url(member, training):
    return reverse("events:detail", args=[member.local_government_id, training.pk])


def test_it_lists_seats_left_and_the_waiting_list_place(
    client, make_training, alice, bob, charlie, edogawa
):
    full = make_training(capacity=1, title="満席の研修会")
    services.register_for_training(full, contact=charlie)
    services.register_for_training(full, contact=bob)
    make_training(capacity=30, title="空きのある研修会")
    client.force_login(bob.user)

    page = client.get(list_url(edogawa)).content.decode()

    assert "残り 30 席" in page
    assert "キャンセル待ち 1 番目" in page
    assert "満席の研修会" in page


def test_it_lists_many_trainings_in_a_fixed_number_of_queries(
    client, make_training, alice, bob, edogawa, django_assert_max_num_queries
):
    for n in range(12):
        training = make_training(title=f"研修 {n}", capacity=1)
        services.register_for_training(training, contact=alice)
        services.register_for_training(training, contact=bob)
    client.force_login(bob.user)

    with django_assert_max_num_queries(12):
        response = client.get(list_url(edogawa))

    assert response.status_code == 200
    assert response.content.decode().count("キャンセル待ち 1 番目") == 12


def test_it_registers_oneself_from_the_detail_page(client, make_training, bob, edogawa):
    training = make_training()
    client.force_login(bob.user)

    response = client.post(detail_url(edogawa, training), follow=True)

    assert "参加が確定しました" in response.content.decode()
    assert Registration.objects.get().contact == bob


def test_it_lets_a_coordinator_register_a_colleague(client, make_training, alice, bob, edogawa):
    training = make_training()
    client.force_login(alice.user)

    client.post(detail_url(edogawa, training), {"contact": bob.pk})

    assert Registration.objects.get().contact == bob


def test_it_registers_only_the_staff_member_themselves_whatever_they_post(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    client.force_login(bob.user)

    client.post(detail_url(edogawa, training), {"contact": alice.pk})

    assert Registration.objects.get().contact == bob


def test_it_forbids_the_pages_of_another_municipality(client, make_training, bob, charlie, adachi):
    training = make_training()
    client.force_login(bob.user)

    assert client.get(list_url(adachi)).status_code == 403
    assert client.post(detail_url(adachi, training)).status_code == 403
    assert not Registration.objects.exists()


def test_it_shows_the_refusal_when_the_member_is_not_in_the_block(
    client, make_training, bob, edogawa, registry
):
    from association.models import Block
    from events.models import Training

    kinki = Block.objects.get(name="近畿")
    training = make_training(kind=Training.Kind.BLOCK, block=kinki)
    client.force_login(bob.user)

    response = client.post(detail_url(edogawa, training), follow=True)

    assert "近畿ブロックの会員団体が対象です" in response.content.decode()


def test_it_shows_the_online_url_only_to_the_confirmed(client, make_training, alice, bob, edogawa):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)

    client.force_login(bob.user)
    assert "meet.example.jp" not in client.get(detail_url(edogawa, training)).content.decode()
    client.force_login(alice.user)
    assert "meet.example.jp" in client.get(detail_url(edogawa, training)).content.decode()


def test_it_cancels_and_substitutes_from_the_portal(client, make_training, alice, bob, edogawa):
    training = make_training()
    carol = association.add_contact(
        edogawa, name="伊藤 真理", email="carol@city.edogawa.example.jp"
    )
    registration = services.register_for_training(training, contact=bob)
    client.force_login(alice.user)
    code = edogawa.local_government_id

    client.post(reverse("events:substitute", args=[code, registration.pk]), {"contact": carol.pk})
    registration.refresh_from_db()
    assert registration.contact == carol
    client.post(reverse("events:cancel", args=[code, registration.pk]))
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED


def test_it_refuses_a_staff_member_cancelling_a_colleague(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    registration = services.register_for_training(training, contact=alice)
    client.force_login(bob.user)

    client.post(reverse("events:cancel", args=[edogawa.local_government_id, registration.pk]))

    registration.refresh_from_db()
    assert registration.is_confirmed


def test_it_downloads_the_ics_of_a_registration(client, make_training, bob, edogawa):
    training = make_training()
    registration = services.register_for_training(training, contact=bob)
    client.force_login(bob.user)

    response = client.get(
        reverse("events:ics", args=[edogawa.local_government_id, registration.pk])
    )

    assert response["Content-Type"] == "text/calendar"
    assert b"BEGIN:VEVENT" in response.content
    assert b"DTSTART;TZID=Asia/Tokyo" in response.content or b"DTSTART:" in response.content


@pytest.mark.django_db
def test_it_renders_the_portal_home_section_for_the_lead(make_training, bob, edogawa):
    from django.template.loader import render_to_string

    make_training(title="ホームに出る研修会")

    html = render_to_string("events/portal_home_section.html", {"member": edogawa, "me": bob})

    assert "ホームに出る研修会" in html
    assert "残り 10 席" in html


def test_it_leaves_the_online_url_out_of_a_waiting_persons_ics(
    client, make_training, alice, bob, edogawa
):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=bob)
    client.force_login(bob.user)

    response = client.get(reverse("events:ics", args=[edogawa.local_government_id, waiting.pk]))

    assert b"STATUS:TENTATIVE" in response.content
    assert b"meet.example.jp" not in response.content


def test_it_shows_a_training_page_in_a_fixed_number_of_queries(
    client, make_training, alice, edogawa, registry, django_assert_max_num_queries
):
    training = make_training(capacity=3)
    for n in range(6):
        contact = association.add_contact(
            edogawa, name=f"職員 {n}", email=f"staff{n}@city.edogawa.example.jp"
        )
        services.register_for_training(training, contact=contact)
    client.force_login(alice.user)

    with django_assert_max_num_queries(14):
        response = client.get(detail_url(edogawa, training))

    assert response.content.decode().count("キャンセル待ち") >= 3
