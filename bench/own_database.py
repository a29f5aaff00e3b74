"""A benchmark's own database: one place for what every in-process bench does before Django.

A bench never measures on the data a person works with. On PostgreSQL it drops and re-creates
`<name>_<suffix>` beside the database DATABASE_URL names; on SQLite it uses a file in its own
folder under var/. Then Django is set up, migrated and (if asked) given the registry.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse


def use_own_database(var: Path, suffix: str, *, registry: bool = False) -> str:
    """Empty VAR, point Django at the bench's own database, migrate it; returns the vendor.

    Settings that must change before Django starts (the e-mail backend, the broker) are set by
    the caller in os.environ before this call.
    """
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    os.environ["RENKEI_VAR_DIR"] = str(var)
    url = os.environ.get("DATABASE_URL", "")
    if url:
        import psycopg

        parsed = urlparse(url)
        name = f"{parsed.path.lstrip('/') or 'renkei'}_{suffix}"
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = parsed._replace(path=f"/{name}").geturl()
    else:
        os.environ["SQLITE_PATH"] = str(var / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if registry:
        call_command("load_local_governments", verbosity=0)
    return connection.vendor
