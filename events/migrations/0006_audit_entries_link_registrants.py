from django.db import migrations


def link_registrants(apps, schema_editor):
    """Entries about a registration named the person in their summary: link the registrant by
    id instead and write the summary without the name."""
    AuditEntry = apps.get_model("association", "AuditEntry")
    AuditPerson = apps.get_model("association", "AuditPerson")
    Registration = apps.get_model("events", "Registration")
    entries = AuditEntry.objects.filter(
        object_type="registration",
        action__in=["registration_cancelled", "registration_substituted", "attendance_marked"],
    )
    for entry in entries:
        if not entry.object_id.isdigit():
            continue
        registration = (
            Registration.objects.filter(pk=int(entry.object_id))
            .select_related("training", "member__local_government")
            .first()
        )
        if registration is None or entry.person_links.exists():
            continue
        title = registration.training.title
        if entry.action == "registration_cancelled":
            member = registration.member.local_government.name
            summary = f"{title}: {{contact}}（{member}）の申込みを取消"
        elif entry.action == "registration_substituted":
            summary = f"{title}: 申込みを {{contact}} に差し替え"
        else:
            summary = entry.summary  # named no one
        AuditEntry.objects.filter(pk=entry.pk).update(summary=summary[:300])
        AuditPerson.objects.create(
            entry_id=entry.pk, contact_id=registration.contact_id, role="contact"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_take_seat_function"),
        ("association", "0004_audit_people_and_address_hash"),
    ]

    operations = [migrations.RunPython(link_registrants, migrations.RunPython.noop)]
