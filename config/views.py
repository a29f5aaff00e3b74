"""Infrastructure views: the health check."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the message says which
        return False, str(exc)[:200]
    return True, "ok"


def _broker_ok() -> tuple[bool, str]:
    # A fresh connection from the settings, not one from Celery's pool: the check is whether
    # the broker answers now.
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return False, str(exc)[:200]
    return True, "ok"


LOOPBACK = ("127.0.0.1", "::1")


def _may_see_details(request: HttpRequest) -> bool:
    # Error texts name hosts, ports and database names: only for this machine (REMOTE_ADDR,
    # not a forwarded header anyone can write) and for the secretariat.
    local = request.META.get("REMOTE_ADDR") in LOOPBACK and "X-Forwarded-For" not in request.headers
    staff = bool(request.user.is_active and request.user.is_staff)
    return local or staff


def healthz(request: HttpRequest) -> JsonResponse:
    """ok / not ok for anyone (the load balancer, a monitor); the details only from this
    machine or to a secretariat account."""
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    ok = db_ok and broker_ok
    body: dict[str, object] = {"status": "ok" if ok else "error"}
    if _may_see_details(request):
        body["database"] = {"ok": db_ok, "detail": db_detail, "vendor": connection.vendor}
        body["broker"] = {"ok": broker_ok, "detail": broker_detail}
    return JsonResponse(body, status=200 if ok else 503)
