import io

from django.core.management import call_command

from events.models import Registration, Training


def test_it_loads_demo_trainings_once_however_often_it_runs(registry):
    call_command("load_demo_data", stdout=io.StringIO())

    out = io.StringIO()
    call_command("load_demo_trainings", stdout=out)
    trainings = Training.objects.count()
    registrations = Registration.objects.count()
    call_command("load_demo_trainings", stdout=out)

    assert trainings == 4
    assert registrations > 0
    assert Training.objects.count() == trainings
    assert Registration.objects.count() == registrations
    assert "研修会 0、申込み 0" in out.getvalue().splitlines()[-1]
    assert Registration.objects.filter(status="waitlisted").exists()
