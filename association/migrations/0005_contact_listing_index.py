from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("association", "0004_audit_people_and_address_hash"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["member", "kana", "id"], name="contact_listed"),
        ),
    ]
