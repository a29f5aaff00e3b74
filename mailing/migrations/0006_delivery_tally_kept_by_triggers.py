"""Counts of each bulletin's deliveries per status, kept by triggers on mailing_delivery.

PostgreSQL: statement-level triggers with transition tables (one INSERT … SELECT … GROUP BY per
statement, so a 100,000-row snapshot or a batch of 100 recorded sends adds a few rows).
SQLite: row-level triggers (one writer at a time there). Rows are only appended; the reader
folds them (mailing.models.DeliveryTallyQuerySet). Existing deliveries are counted once here,
with the delivery table locked against writers so that nothing is counted twice or missed."""

from django.db import migrations, models

POSTGRES = [
    """
    CREATE FUNCTION mailing_delivery_tally() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO mailing_deliverytally (bulletin_id, status, n)
        SELECT bulletin_id, status, count(*) FROM new_rows GROUP BY bulletin_id, status;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO mailing_deliverytally (bulletin_id, status, n)
        SELECT bulletin_id, status, -count(*) FROM old_rows GROUP BY bulletin_id, status;
      ELSE
        INSERT INTO mailing_deliverytally (bulletin_id, status, n)
        SELECT bulletin_id, status, sum(d) FROM (
          SELECT bulletin_id, status, -1 AS d FROM old_rows
          UNION ALL
          SELECT bulletin_id, status, 1 AS d FROM new_rows
        ) AS changes
        GROUP BY bulletin_id, status HAVING sum(d) <> 0;
      END IF;
      RETURN NULL;
    END
    $$
    """,
    "LOCK TABLE mailing_delivery IN SHARE MODE",
    """
    CREATE TRIGGER mailing_delivery_tally_insert AFTER INSERT ON mailing_delivery
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_delivery_tally()
    """,
    """
    CREATE TRIGGER mailing_delivery_tally_update AFTER UPDATE ON mailing_delivery
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_delivery_tally()
    """,
    """
    CREATE TRIGGER mailing_delivery_tally_delete AFTER DELETE ON mailing_delivery
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_delivery_tally()
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_insert ON mailing_delivery",
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_update ON mailing_delivery",
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_delete ON mailing_delivery",
    "DROP FUNCTION IF EXISTS mailing_delivery_tally()",
]
SQLITE = [
    """
    CREATE TRIGGER mailing_delivery_tally_insert AFTER INSERT ON mailing_delivery
    BEGIN
      INSERT INTO mailing_deliverytally (bulletin_id, status, n)
      VALUES (NEW.bulletin_id, NEW.status, 1);
    END
    """,
    """
    CREATE TRIGGER mailing_delivery_tally_update AFTER UPDATE OF status, bulletin_id
    ON mailing_delivery
    WHEN OLD.status IS NOT NEW.status OR OLD.bulletin_id IS NOT NEW.bulletin_id
    BEGIN
      INSERT INTO mailing_deliverytally (bulletin_id, status, n)
      VALUES (OLD.bulletin_id, OLD.status, -1), (NEW.bulletin_id, NEW.status, 1);
    END
    """,
    """
    CREATE TRIGGER mailing_delivery_tally_delete AFTER DELETE ON mailing_delivery
    BEGIN
      INSERT INTO mailing_deliverytally (bulletin_id, status, n)
      VALUES (OLD.bulletin_id, OLD.status, -1);
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_insert",
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_update",
    "DROP TRIGGER IF EXISTS mailing_delivery_tally_delete",
]
COUNT_EXISTING = """
    INSERT INTO mailing_deliverytally (bulletin_id, status, n)
    SELECT bulletin_id, status, count(*) FROM mailing_delivery GROUP BY bulletin_id, status
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"mailing 0006: no delivery tally triggers for {vendor}")
    statements = POSTGRES if vendor == "postgresql" else SQLITE
    for statement in [*statements, COUNT_EXISTING]:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


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
        migrations.RunPython(create_triggers, drop_triggers),
    ]
