"""A folded search column on Bulletin (association.search's rule), for the archive's search.
Bulletins that exist already are filled after migrate by
mailing.services.fill_bulletin_search_text (the folding rule is app code, which a migration
does not import). On PostgreSQL the column gets a trigram index, as association's do, so that a
LIKE '%word%' of three characters or more is answered from the index."""

from django.db import migrations, models


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite scans the one column; nothing indexes LIKE '%x%' there
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS mailing_bulletin_search_trgm ON mailing_bulletin "
        "USING gin (search_text gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS mailing_bulletin_search_trgm")


class Migration(migrations.Migration):
    dependencies = [
        # The pg_trgm extension is created there.
        ("association", "0005_folded_search_columns"),
        ("mailing", "0011_bulletin_addressees"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulletin",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="検索用"),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
