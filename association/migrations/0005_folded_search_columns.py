"""Folded search columns (association.search). Rows that exist already are filled after
migrate by association.search.fill_search_text (the folding rule is app code, which a
migration does not import). On PostgreSQL each column gets a trigram index, so that a LIKE
'%word%' of three characters or more is answered from the index."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

TABLES = ("association_prefecture", "association_localgovernment", "association_contact")


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite scans the one narrow column; nothing indexes LIKE '%x%' there
    for table in TABLES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_search_trgm ON {table} "
            "USING gin (search_text gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("association", "0004_audit_people_and_address_hash"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="検索用"),
        ),
        migrations.AddField(
            model_name="localgovernment",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="検索用"),
        ),
        migrations.AddField(
            model_name="prefecture",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="検索用"),
        ),
        TrigramExtension(),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
