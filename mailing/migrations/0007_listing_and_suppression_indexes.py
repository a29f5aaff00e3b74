import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0006_delivery_tally_kept_by_triggers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="bulletin",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="mailing.bulletin",
                verbose_name="配信",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["bulletin", "id"], name="delivery_listed"),
        ),
        migrations.AddIndex(
            model_name="providerevent",
            index=models.Index(fields=["received_at", "id"], name="provider_event_listed"),
        ),
        migrations.AddIndex(
            model_name="suppression",
            index=models.Index(fields=["email"], name="suppression_email"),
        ),
        migrations.AddIndex(
            model_name="suppression",
            index=models.Index(fields=["created_at", "id"], name="suppression_listed"),
        ),
    ]
