from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_audit_entries_link_registrants"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="registration",
            index=models.Index(fields=["training", "id"], name="registration_listed"),
        ),
    ]
