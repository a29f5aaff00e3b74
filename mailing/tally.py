"""The delivery tally's triggers (see models.DeliveryTally): installed after every migrate,
and again whenever they are missing — SQLite drops a table's triggers when a migration rebuilds
the table, which any later change to Delivery does. Installing them recounts the tally from the
deliveries, with the table locked against writers on PostgreSQL, so nothing is counted twice or
missed."""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction

NAMES = (
    "mailing_delivery_tally_insert",
    "mailing_delivery_tally_update",
    "mailing_delivery_tally_delete",
)

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION mailing_delivery_tally() RETURNS trigger LANGUAGE plpgsql AS $$
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
RECOUNT = [
    "DELETE FROM mailing_deliverytally",
    """
    INSERT INTO mailing_deliverytally (bulletin_id, status, n)
    SELECT bulletin_id, status, count(*) FROM mailing_delivery GROUP BY bulletin_id, status
    """,
]


def installed(using: str = "default") -> bool:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = ANY(%s) AND NOT tgisinternal",
                [list(NAMES)],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s)",
                list(NAMES),
            )
        return bool(cursor.fetchone()[0] == len(NAMES))


def install(using: str = "default") -> bool:
    """Install the triggers and recount, unless they are in place. Returns whether it did."""
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"no delivery tally triggers for {connection.vendor}")
    tables = connection.introspection.table_names()
    if "mailing_deliverytally" not in tables or "mailing_delivery" not in tables:
        return False  # migrated back to before the tally
    if installed(using):
        return False
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE mailing_delivery IN SHARE ROW EXCLUSIVE MODE")
            statements = [*POSTGRES_DROP, *POSTGRES]
        else:
            statements = [*SQLITE_DROP, *SQLITE]
        for statement in [*statements, *RECOUNT]:
            cursor.execute(statement)
    return True


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    install(using)
