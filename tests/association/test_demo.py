import io

from django.core.management import call_command

from association.models import Agreement, Block, Contact, Member, User


def test_the_demo_data_has_the_partners_every_block_and_a_secretariat(registry):
    out = io.StringIO()
    call_command("load_demo_data", stdout=out)
    assert Agreement.objects.count() == 24
    assert Agreement.objects.get(local_government__name="江戸川区").hashtag == "#いのちSOS江戸川"
    assert Member.objects.get(local_government__name="岩手県").kind == Member.Kind.SPECIAL
    for block in Block.objects.all():
        assert Member.objects.in_block(block).exists(), block
    for member in Member.objects.all():
        assert 2 <= member.contacts.count() <= 3
        assert member.contacts.filter(role=Contact.Role.COORDINATOR).count() == 1
    assert User.objects.get(username="jimukyoku").is_superuser


def test_loading_the_demo_data_twice_keeps_what_is_there(registry):
    call_command("load_demo_data", stdout=io.StringIO())
    counts = (Member.objects.count(), Contact.objects.count(), Agreement.objects.count())
    out = io.StringIO()
    call_command("load_demo_data", stdout=out)
    assert (Member.objects.count(), Contact.objects.count(), Agreement.objects.count()) == counts
    assert "会員 0、協定 0、担当者 0" in out.getvalue()
