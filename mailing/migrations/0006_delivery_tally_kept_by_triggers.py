"""Counts of each bulletin's deliveries per status (mailing.models.DeliveryTally). The triggers
that keep it are installed after migrate by mailing.tally (SQLite drops them whenever a later
migration rebuilds the delivery table, so one place installs them and checks they are there)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0005_suppression_keyed_by_address_hash"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeliveryTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("bulletin_id", models.BigIntegerField(verbose_name="配信ID")),
                ("status", models.CharField(max_length=12, verbose_name="状態")),
                ("n", models.BigIntegerField(verbose_name="件数")),
            ],
            options={
                "verbose_name": "配信先の集計",
                "verbose_name_plural": "配信先の集計",
                "indexes": [
                    models.Index(fields=["bulletin_id", "status"], name="delivery_tally_bulletin")
                ],
            },
        ),
    ]
