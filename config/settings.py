"""Renkei settings. Every deployable value comes from the environment.

With nothing set, Renkei runs on embedded defaults: SQLite and a filesystem broker under
var/, and a file outbox for mail. See README.md for the table of variables.
"""

import datetime as dt
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envget(name: str, default: str = "") -> str:
    """Read NAME from the environment, or from the file named by NAME_FILE (for secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def envbool(name: str, default: str = "False") -> bool:
    """NAME as a boolean: 1/true/yes/on or 0/false/no/off (any case); unset or empty is
    DEFAULT. Anything else stops the start: a typo must not quietly mean "off"."""
    value = envget(name, "").strip().lower() or default.lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={envget(name)!r} is not a boolean (use one of {', '.join(TRUE_WORDS)} "
        f"or {', '.join(FALSE_WORDS)})"
    )


def envint(name: str, default: str) -> int:
    return int(envget(name, default))


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in envget(name, default).split(",") if item.strip()]


# Everything written under var/ (the SQLite database, the secret key, the outbox, media, the
# broker folder, import previews) holds personal data or secrets: only this account reads it.
os.umask(0o077)
# `make test` runs the suite in several processes at once (pytest-xdist): each of them, with the
# workers and servers it starts (they inherit PYTEST_XDIST_WORKER), has a var/ directory and a
# pair of Redis databases of its own. Outside the test suite TEST_PROCESS is 0 and changes nothing.
TEST_PROCESS = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
VAR_DIR = Path(
    envget(
        "RENKEI_VAR_DIR",
        str(BASE_DIR / "var" / f"test-gw{TEST_PROCESS}" if TEST_PROCESS else BASE_DIR / "var"),
    )
)
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
VAR_DIR.chmod(0o700)

PRODUCTION = envget("RENKEI_ENV", "dev") == "production"
DEBUG = envbool("DEBUG")
if PRODUCTION and DEBUG:
    # DEBUG shows settings, SQL and every login code's outbox to anyone who can cause an error.
    raise ImproperlyConfigured("DEBUG must be off when RENKEI_ENV=production")
SECRET_KEY = envget("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    # A per-checkout key for development, kept out of the repository.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.touch(mode=0o600)
        key_file.write_text(get_random_secret_key(), encoding="utf-8")
    key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text(encoding="utf-8").strip()


def _served_url() -> str:
    """Where `make run` serves (RENKEI_HOST/RENKEI_PORT, which it gives every process it
    starts), so that links in the demo's mail open the running site; else localhost:8000."""
    port = envget("RENKEI_PORT")
    if not port:
        return "http://localhost:8000"
    host = envget("RENKEI_HOST", "localhost").strip() or "localhost"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "localhost"  # every interface: this machine's own name opens it
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


SITE_URL = (envget("SITE_URL") or _served_url()).rstrip("/")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_NAME = envget("SITE_NAME", "自殺のない社会づくり市区町村会")
# TrueType fonts embedded in printed papers (office/papers.py); empty: Debian's IPAex fonts.
OFFICE_FONT_GOTHIC = envget("OFFICE_FONT_GOTHIC", "")
OFFICE_FONT_MINCHO = envget("OFFICE_FONT_MINCHO", "")

INSTALLED_APPS = [
    # The admin's default site is Renkei's: password plus a second factor (django-otp).
    "config.admin_apps.RenkeiAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "config.admin_apps.LoginRecordsConfig",  # django-axes
    "anymail",
    "config",
    "association",
    "postbox",
    "questions",
    "mailing",
    "events",
    "office",
    "inquiries",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The secretariat's read-only view of a member's portal: refuses every write while it lasts.
    "association.view_as.ReadOnlyViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# Sessions are read on every page: from the cache (Redis in production), kept in the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "config.context_processors.site",
                "mailing.context_processors.stopped_bulletins",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL, else an SQLite file under var/ in WAL mode with
# immediate transactions, so that writers queue on the lock instead of failing mid-way.
DATABASE_URL = envget("DATABASE_URL")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60")
        )
    }
    # Parameters travel apart from the query text, so psycopg prepares a query the fifth time
    # it runs on a connection and PostgreSQL stops parsing and planning it (measured: 1.2 ms
    # less CPU per registration page). Turn off behind a pooler in transaction mode.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = envbool(
        "DATABASE_SERVER_SIDE_BINDING", "True"
    )
    # No JIT compilation: a page's query over 100,000 contacts spent 2.4 s of its 5 s compiling
    # (PostgreSQL's default jit=on pays off for long analytical queries, not for pages).
    if not envbool("DATABASE_JIT", "False"):
        DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": envget("SQLITE_PATH", str(VAR_DIR / "renkei.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                ),
            },
            # A file, not :memory:, so that real worker processes share the test database.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
            # Opening and closing an SQLite connection per request costs more than the query.
            "CONN_MAX_AGE": envint("DATABASE_CONN_MAX_AGE", "60"),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "association.User"


def _own_redis_database(name: str, default: str = "") -> str:
    """The setting NAME, a redis://host:port/N URL, as N + 2 × the test process (see
    TEST_PROCESS): the broker and the cache, numbered N and N + 1 by convention, stay apart
    between parallel test processes. Celery reads CELERY_BROKER_URL from the environment before
    any setting, and the workers a test starts inherit the environment: the process's own URL
    is written back there, marked as already moved so that a child does not move it again."""
    url = envget(name, default)
    moved = f"{name}_FOR_TEST_PROCESS"
    if not TEST_PROCESS or not url.startswith(("redis://", "rediss://")):
        return url
    if os.environ.get(moved) == str(TEST_PROCESS):
        return url
    head, _, number = url.rpartition("/")
    url = f"{head}/{int(number or 0) + 2 * TEST_PROCESS}"
    os.environ[name] = url
    os.environ[moved] = str(TEST_PROCESS)
    return url


REDIS_URL = _own_redis_database("REDIS_URL")
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # Rate limits must hold across processes, so the cache is shared (a file cache), not locmem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Sessions live here too (read through, kept in the database): room for many.
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out account or address is refused before any password check.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, with a user's permissions read in one query (association/backends.py).
    "association.backends.OneQueryPermissionBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Municipality staff log in with a one-time code mailed to their address. There is no signup:
# only an active contact has an account, its own (see association.services._sync_login), and
# only the code request, code entry and logout pages of allauth are mounted (config/urls.py).
ACCOUNT_ADAPTER = "association.adapters.AccountAdapter"
ACCOUNT_FORMS = {
    "request_login_code": "association.forms.RequestLoginCodeForm",
    "confirm_login_code": "association.forms.ConfirmLoginCodeForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_REQUIRED = False
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 600
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = 2  # 「コードを再送」, twice at most
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = envget("EMAIL_SUBJECT_PREFIX", "【市区町村会】")
# Per client address ("ip", behind TRUSTED_PROXY_COUNT proxies) and per typed address ("key").
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "request_login_code": "20/m/ip,3/m/key",
    "confirm_login_code": "30/m/ip",
}
LOGIN_URL = "account_request_login_code"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_request_login_code"

# The reverse proxies in front of the web server that append to X-Forwarded-For (README:
# Production). The client is the address the outermost trusted proxy saw; with 0, REMOTE_ADDR.
# One rule for allauth's rate limits and django-axes (association.adapters.client_ip).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# The secretariat's door (the admin): password and a second factor (django-otp: TOTP, with
# recovery codes), throttled per account and per client address by django-axes, each attempt
# recorded (axes' access logs in the admin).
OTP_TOTP_ISSUER = envget("OTP_TOTP_ISSUER", "Renkei")
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("AXES_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: the account, the client
AXES_CLIENT_IP_CALLABLE = "association.adapters.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "association.admin_site.locked_out"
AXES_VERBOSE = False

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語")), ("en", _("English"))]
# locale/: our catalogues (makemessages); locale_overrides/: Japanese for libraries that have
# none (django-axes), written by hand and never regenerated.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_overrides"]
TIME_ZONE = "Asia/Tokyo"
# Dates with their weekday (config/formats/ja/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if envbool("STATIC_MANIFEST")
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(envget("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Mail. EMAIL_BACKEND picks the transport: an anymail backend (with ANYMAIL_* settings), SMTP,
# or, by default, the file outbox under var/outbox that /dev/outbox/ shows when DEBUG is on.
EMAIL_BACKEND = envget("EMAIL_BACKEND", "mailing.outbox.OutboxBackend")
OUTBOX_DIR = Path(envget("OUTBOX_DIR", str(VAR_DIR / "outbox")))
# The outbox is pruned by beat: messages older than this many days, and all but the newest this
# many (one bulletin writes a file per recipient).
OUTBOX_KEEP_DAYS = envint("OUTBOX_KEEP_DAYS", "7")
OUTBOX_KEEP_COUNT = envint("OUTBOX_KEEP_COUNT", "1000")
DEFAULT_FROM_EMAIL = envget("DEFAULT_FROM_EMAIL", "市区町村会事務局 <jimukyoku@renkei.example.jp>")
SERVER_EMAIL = envget("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_HOST = envget("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = envget("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envget("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): envget(key)
    for key in os.environ
    if key.startswith("ANYMAIL_") and not key.endswith("_FILE")
} | {
    key.removeprefix("ANYMAIL_").removesuffix("_FILE"): envget(key.removesuffix("_FILE"))
    for key in os.environ
    if key.startswith("ANYMAIL_") and key.endswith("_FILE")
}
if "," in str(ANYMAIL.get("WEBHOOK_SECRET", "")):
    # Rotating webhook credentials: "user:new,user:old" accepts both until the old one goes.
    ANYMAIL["WEBHOOK_SECRET"] = envlist("ANYMAIL_WEBHOOK_SECRET")  # type: ignore[assignment]
ANYMAIL.setdefault("BREVO_API_URL", envget("BREVO_API_URL", "https://api.brevo.com/v3/"))
# anymail's boolean settings (its own, and each provider's: <ESP>_USE_BULK_API…) are read as
# booleans, or ANYMAIL_IGNORE_RECIPIENT_STATUS=False would be the true string "False".
ANYMAIL_BOOLEANS = (
    "IGNORE_UNSUPPORTED_FEATURES",
    "IGNORE_RECIPIENT_STATUS",
    "DEBUG_API_REQUESTS",
    "GENERATE_MESSAGE_ID",
    "USE_BULK_API",
    "TRACK_INITIAL_OPEN_AS_OPENED",
    "AUTO_CONFIRM_SNS_SUBSCRIPTIONS",
)
for _key in list(ANYMAIL):
    if any(_key == word or _key.endswith("_" + word) for word in ANYMAIL_BOOLEANS):
        ANYMAIL[_key] = envbool(f"ANYMAIL_{_key}")  # type: ignore[assignment]

# Bulletins (mailing app). The pipeline keeps its truth in Delivery rows; these tune it.
MAILING_EMAIL_BACKEND = envget("MAILING_EMAIL_BACKEND")  # defaults to EMAIL_BACKEND
MAILING_RATE_PER_SECOND = envint("MAILING_RATE_PER_SECOND", "0")  # per provider; 0 = no limit
MAILING_PROVIDER_KEY = envget("MAILING_PROVIDER_KEY")
MAILING_CHUNK_SIZE = envint("MAILING_CHUNK_SIZE", "100")
MAILING_BATCH_SIZE = envint("MAILING_BATCH_SIZE", "0")  # 0 = the provider's own limit
MAILING_SENDERS = envint("MAILING_SENDERS", "4")  # parallel send tasks per bulletin
MAILING_MAX_ATTEMPTS = envint("MAILING_MAX_ATTEMPTS", "6")
MAILING_RETRY_SECONDS = envint("MAILING_RETRY_SECONDS", "60")  # first backoff, then doubled
MAILING_CLAIM_TIMEOUT = envint("MAILING_CLAIM_TIMEOUT", "120")  # a stuck claim is released
# A sender beats every second; one silent for this long is dead and its claims are released.
MAILING_SENDER_TIMEOUT = envint("MAILING_SENDER_TIMEOUT", "5")
# A sender looks at the bulletin's state (pause, cancel) and at its claimed rows (opt-outs)
# before every this many messages, and at least every MAILING_CHECK_SECONDS.
MAILING_CHECK_EVERY = envint("MAILING_CHECK_EVERY", "10")
MAILING_CHECK_SECONDS = envint("MAILING_CHECK_SECONDS", "1")
# A bulletin whose first this many deliveries all fail for one reason stops (0: never).
MAILING_FAIL_FAST = envint("MAILING_FAIL_FAST", "20")
MAILING_STALL_SECONDS = envint("MAILING_STALL_SECONDS", "30")
MAILING_SWEEP_SECONDS = envint("MAILING_SWEEP_SECONDS", "5")
MAILING_SCHEDULE_SECONDS = envint("MAILING_SCHEDULE_SECONDS", "30")  # how often beat looks
MAILING_UNSUBSCRIBE_TOKEN_DAYS = envint("MAILING_UNSUBSCRIBE_TOKEN_DAYS", "400")
MAILING_UNSUBSCRIBE_MAILTO = envget("MAILING_UNSUBSCRIBE_MAILTO")
MAILING_SECRETARIAT_EMAIL = envget("MAILING_SECRETARIAT_EMAIL")
MAILING_MESSAGE_ID_DOMAIN = envget("MAILING_MESSAGE_ID_DOMAIN")
MAILING_LIST_ID_DOMAIN = envget("MAILING_LIST_ID_DOMAIN")

# Mail to one person (postbox app): login codes, training notices, the hand-over welcome,
# reports to the secretariat. Queued in the caller's transaction, sent by a worker.
POSTBOX_MAX_ATTEMPTS = envint(
    "POSTBOX_MAX_ATTEMPTS", "8"
)  # tries before a transient error is final
POSTBOX_RETRY_SECONDS = envint("POSTBOX_RETRY_SECONDS", "30")  # first back-off, then doubled
POSTBOX_RETRY_MAX_SECONDS = envint("POSTBOX_RETRY_MAX_SECONDS", "3600")  # longest back-off
POSTBOX_CLAIM_TIMEOUT = envint("POSTBOX_CLAIM_TIMEOUT", "120")  # a silent worker's claim
POSTBOX_SWEEP_SECONDS = envint("POSTBOX_SWEEP_SECONDS", "15")  # how often beat looks
POSTBOX_CHUNK_SIZE = envint("POSTBOX_CHUNK_SIZE", "20")
POSTBOX_DRAIN_SECONDS = envint("POSTBOX_DRAIN_SECONDS", "30")
POSTBOX_KEEP_DAYS = envint("POSTBOX_KEEP_DAYS", "180")  # finished messages are then deleted

# Celery. Redis in production; by default kombu's filesystem transport under var/broker, which
# is a real broker shared by the web process, the worker and beat. Never eager.
CELERY_BROKER_URL = _own_redis_database("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # A test copy of a bulletin is for the person waiting at the compose screen.
    "mailing.send_test_bulletin": {"queue": "transactional"},
    "mailing.prune_outbox": {"queue": "transactional"},  # housekeeping, never behind a send
    # Housekeeping must never wait behind a 60-second send: releasing a dead sender's claims,
    # settling a pause and starting a scheduled bulletin go with mail to one person.
    "mailing.sweep_deliveries": {"queue": "transactional"},
    "mailing.start_due_bulletins": {"queue": "transactional"},
    "mailing.*": {"queue": "bulletins"},
    "events.*": {"queue": "transactional"},
    "inquiries.*": {"queue": "transactional"},
    "postbox.*": {"queue": "transactional"},
    "association.*": {"queue": "transactional"},
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Trainings: reminders (claimed per registration, so at most one each) and deadlines.
    "events-send-training-reminders": {
        "task": "events.send_training_reminders",
        "schedule": 15 * 60.0,
    },
    "events-close-trainings": {"task": "events.close_trainings", "schedule": 5 * 60.0},
    # 照会 and surveys: open the scheduled ones (a survey when its training ends), and send
    # each reminder day's round once (claimed by a unique row).
    "inquiries-open-due": {"task": "inquiries.open_due_inquiries", "schedule": 5 * 60.0},
    "inquiries-send-reminders": {"task": "inquiries.send_reminders", "schedule": 30 * 60.0},
    # Mail owed by trainings is sent when it is written; this catches anything left behind.
    "events-send-training-notices": {"task": "events.send_training_notices", "schedule": 60.0},
    # Mail to one person is sent when it is committed; this sends what is due again after a
    # back-off and catches anything a lost task left behind.
    "postbox-send-mail": {"task": "postbox.send_mail", "schedule": float(POSTBOX_SWEEP_SECONDS)},
    "postbox-prune-mail": {"task": "postbox.prune_mail", "schedule": 3600.0},
    # Uploaded contact files waiting for a confirm hold personal data: none outlives an hour
    # (association.import_previews: previews last 55 minutes, swept every 5).
    "association-remove-stale-import-previews": {
        "task": "association.remove_stale_import_previews",
        "schedule": 300.0,
    },
    "mailing-prune-outbox": {"task": "mailing.prune_outbox", "schedule": 10 * 60.0},
    # Bulletins: release claims of dead workers, restart stalled sends; start scheduled ones.
    "mailing-sweep-deliveries": {
        "task": "mailing.sweep_deliveries",
        "schedule": float(MAILING_SWEEP_SECONDS),
    },
    "mailing-start-due-bulletins": {
        "task": "mailing.start_due_bulletins",
        "schedule": float(MAILING_SCHEDULE_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Trainings: commit registrations on PostgreSQL without waiting for the WAL flush (see
# events/services.py). Off by default: a confirmation mail is sent once the registration has
# committed, so a commit a server crash could still lose would mail a seat that is not there.
EVENTS_REGISTRATION_ASYNC_COMMIT = envbool("EVENTS_REGISTRATION_ASYNC_COMMIT", "False")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envget("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # WeasyPrint tells each step of each PDF at INFO; fontTools each subset.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# A Content-Security-Policy on every page (django-csp): scripts and styles from our own static
# files only, no inline script (the admin and the compose page load theirs from /static/).
# Inline styles stay allowed: mail is HTML with inline styles, and the admin's previews show it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if PRODUCTION:
    # Behind the documented TLS-terminating proxy (README: Production).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    # The health check is probed over plain HTTP by the proxy and the orchestrator.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "True")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "True")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
