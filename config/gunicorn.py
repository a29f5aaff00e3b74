"""gunicorn settings for `make run` (Procfile.dev) and production: `gunicorn -c
config/gunicorn.py config.wsgi`. Command-line options (e.g. --bind) win over these.

Sized to the machine: the pages are CPU-bound (a registration waits ~2 ms on the database),
so cores + 1 processes; two threads each keep a page answering while another request in the
same process waits on a lock (SQLite's writer, a slow query). The listen backlog holds a burst
(Django's dev server queued 10 and reset the rest)."""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("WEB_BIND") or (
    f"{os.environ.get('RENKEI_HOST') or '127.0.0.1'}:{os.environ.get('RENKEI_PORT') or '8000'}"
)
workers = _int("WEB_WORKERS", (os.cpu_count() or 1) + 1)
threads = _int("WEB_THREADS", 2)
worker_class = "gthread" if threads > 1 else "sync"
backlog = _int("WEB_BACKLOG", 2048)
timeout = _int("WEB_TIMEOUT", 60)
graceful_timeout = 10
keepalive = 5
# Auto-reload on code changes (development only; off by default: it polls every file).
reload = os.environ.get("WEB_RELOAD", "").lower() in ("1", "true", "yes", "on")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# No control socket: its default path is one per user, shared by every checkout on the machine.
control_socket_disable = True
