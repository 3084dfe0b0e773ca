"""Settings for the survivorship follow-up scheduler.

One module, read from the environment (see README "Configuration" and ``.env.example``,
which lists every variable read here). Defaults are the embedded, production-safe ones:
SQLite under ``var/``, a filesystem Celery broker that needs no server, DEBUG off. With
DEBUG off a SECRET_KEY is required.

Reading the settings has no side effect: nothing is created (``make run`` makes ``var/``
and the broker's folders; the tests set up what they need), and nothing depends on
which program imports this module (the tests set their environment in pyproject.toml).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# Local development: a `.env` file (`make run` writes one with DEBUG on and a generated
# SECRET_KEY), so `python manage.py <command>` needs nothing exported. Variables already in
# the environment win over the file. ENV_FILE names another file; empty reads none.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the app refuses to start without a "
            "secret key: set SECRET_KEY to a long random value (for example the output "
            'of `python -c "import secrets; print(secrets.token_urlsafe(50))"`), '
            "or set DEBUG=1 for local development (`make run` writes both to a .env file)."
        )

# The local server's port (`PORT=8080 make run`). Links the app writes use SITE_URL, which
# defaults to this port on loopback. Honcho gives each process of the Procfile its own PORT
# (web 8000, worker 8100, ...), so `make run` passes all of them the web's SITE_URL.
PORT = env.int("PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
_site = urlparse(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.hostname:
    raise ImproperlyConfigured(f"SITE_URL must be an absolute http(s) URL, got {SITE_URL!r}.")
SITE_DOMAIN = _site.hostname

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", "[::1]", SITE_DOMAIN] if DEBUG else [SITE_DOMAIN],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[f"{_site.scheme}://{_site.netloc}"])

INSTALLED_APPS = [
    "survivorship.apps.SurvivorshipAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "survivorship",
    "scheduler",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "survivorship.middleware.NoStoreForSignedInMiddleware",
    "survivorship.middleware.StaffIdleTimeoutMiddleware",
    "survivorship.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "survivorship.urls"
WSGI_APPLICATION = "survivorship.wsgi.application"
ASGI_APPLICATION = "survivorship.asgi.application"

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
                "survivorship.context_processors.navigation",
            ],
            # {% submission_key %} in every state-changing form (scheduler/submissions.py).
            "builtins": ["scheduler.templatetags.submissions"],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout so web, worker and beat can share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The reminder send path keeps its two statements prepared on each worker connection
# (scheduler/reminders/send.py): planning its six-table claim costs more than running it.
# psycopg prepares only for cursors that bind parameters on the server, which only that
# path uses (Django's own cursors bind on the client), and only when the connection has a
# prepare_threshold. Set to 0 behind a pooler that cannot carry prepared statements
# (PgBouncer before 1.21 in transaction mode).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, result backend and cache -------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "survivorship",
        }
    }
else:
    # The embedded default: a file cache shared by the web workers, worker and beat. A feed
    # takes a few entries (its blocks, its bytes, a head per link) and a poll reads two, so
    # the cache holds a few thousand entries; Django lists the directory when it culls, so
    # keep FILE_CACHE_ENTRIES in the thousands. Feed rate counts live in the database.
    CACHES = {
        "default": {
            "BACKEND": "survivorship.cache.FileCache",  # Django's file cache, tuned (see there)
            "LOCATION": env.str("FILE_CACHE_DIR", default=str(VAR_DIR / "cache")),
            "OPTIONS": {"MAX_ENTRIES": env.int("FILE_CACHE_ENTRIES", default=3000)},
        }
    }

CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
# Recovery after a worker dies (Redis broker). The tasks that acknowledge late (reminder
# sends, nurse digests, plan-extension chunks) stay unacknowledged on the broker while a
# worker holds them, prefetched or running; if the worker is killed, Redis hands them to
# another worker once they are this old. Celery's default is an hour, which is how long
# a killed worker's prefetched reminders used to wait. It must exceed the hard time limit
# of every late-acknowledged task (checked below) and any countdown a task is held for
# (a reminder retry longer than half of it is left to the sweep instead). Sixty seconds,
# with the 10-second scan, gives back a dead worker's messages within 70 s; its claimed
# reminders are taken over then (REMINDER_CLAIM_TIMEOUT is shorter), so everything it
# held is delivered within about 75 s (tests/integration, with these defaults).
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=60)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A message a worker took but never acknowledged (it was killed) goes back on its
        # queue this long after it was delivered (BROKER_VISIBILITY_TIMEOUT above)...
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        # ...as soon as a live worker's next scan for such messages sees it: every 10 s
        # (kombu's default scans every 10 x 10 s, too slow for a one-minute timeout).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
else:
    # Embedded broker: kombu's filesystem transport, so a real worker and beat run
    # with no server at all. Good for one machine; use Redis for several.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = None
    # kombu expects both folders to exist: `make run` creates them (`make var`).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker installs its own log handlers on the root logger (worker_hijack_root_logger);
# survivorship.celery gives them the redaction filter, and every record is redacted when
# created anyway (survivorship.logging).
CELERY_WORKER_HIJACK_ROOT_LOGGER = True
# Nightly plan extension (scheduler/plans/extension.py): one task per chunk of this many
# patients; a chunk past half its time limit queues the rest of itself as a new task.
PLAN_EXTEND_CHUNK = env.int("PLAN_EXTEND_CHUNK", default=200)
PLAN_EXTEND_HOUR = env.int("PLAN_EXTEND_HOUR", default=2)  # UTC
PLAN_EXTEND_CHUNK_TIME_LIMIT = 40
DIGEST_SEND_TIME_LIMIT = 30
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule: one reviewed place. Each entry states its period and expires
# near it, so a backlog never runs stale work.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Every minute: a beat -> broker -> worker round trip that /healthz reports.
    "heartbeat": {
        "task": "survivorship.heartbeat",
        "schedule": 60,
        "options": {"expires": 55},
    },
    # Every night at PLAN_EXTEND_HOUR (UTC): extend the rolling horizon of the plans running
    # short of three years ahead, one task per chunk of patients (resumes what an earlier
    # run left undone). `plan extend --status` shows the progress.
    "plans-extend": {
        "task": "scheduler.plans_extend",
        "schedule": crontab(hour=PLAN_EXTEND_HOUR, minute=15),
        "options": {"expires": 6 * 60 * 60},
    },
    # Every 5 minutes: find reminders whose moment has come and fan out one send per row.
    "reminders-sweep": {
        "task": "scheduler.reminders_sweep",
        "schedule": 5 * 60,
        "options": {"expires": 4 * 60},
    },
    # Every 15 minutes: send the morning digest to nurses for whom it is now 07:00 local.
    "nurse-digests": {
        "task": "scheduler.nurse_digests",
        "schedule": 15 * 60,
        "options": {"expires": 14 * 60},
    },
}
# Sends run on their own queue so a backlog of reminders never delays other work.
# The nightly plan extension's chunks have theirs too, so a night's hundreds of chunks
# never hold back the sweeps and digests on the default queue. Workers consume all three
# (Procfile, README "Deploying").
CELERY_TASK_ROUTES = {
    "scheduler.reminder_send": {"queue": "reminders"},
    "scheduler.plans_extend_chunk": {"queue": "plans"},
}
# Reminder delivery (see scheduler/reminders/send.py for the exactly-once argument), tuned
# with BROKER_VISIBILITY_TIMEOUT (README "Configuration"):
# - a send is killed after REMINDER_SEND_TIME_LIMIT seconds (an SMTP or SMS call times out
#   after 20 s or 15 s), so a 'sending' claim older than REMINDER_CLAIM_TIMEOUT can only
#   belong to a dead worker and is taken over by the next message for it;
# - the claim timeout is shorter than the visibility timeout, so the message Redis gives
#   back after a worker died finds its claim already stale and takes it over at once (a
#   message that finds a younger claim retries when the claim expires);
# - a due row whose message was lost by the broker itself (Redis restarted without its
#   data) is queued again by the sweep after REMINDER_REQUEUE_AFTER: longer than a large
#   morning backlog takes to drain, so the sweep never duplicates messages still queued.
REMINDER_SEND_TIME_LIMIT = env.int("REMINDER_SEND_TIME_LIMIT", default=30)
REMINDER_CLAIM_TIMEOUT = env.int("REMINDER_CLAIM_TIMEOUT", default=45)
REMINDER_REQUEUE_AFTER = env.int("REMINDER_REQUEUE_AFTER", default=5 * 60)
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=8)
REMINDER_RETRY_BACKOFF = env.float("REMINDER_RETRY_BACKOFF", default=30.0)  # seconds, doubles per attempt
if REMINDER_CLAIM_TIMEOUT <= REMINDER_SEND_TIME_LIMIT:
    raise ImproperlyConfigured(
        "REMINDER_CLAIM_TIMEOUT must be longer than REMINDER_SEND_TIME_LIMIT, or a live send could be "
        "taken over by another worker and a reminder sent twice."
    )
_late_acked_limit = max(REMINDER_SEND_TIME_LIMIT, PLAN_EXTEND_CHUNK_TIME_LIMIT, DIGEST_SEND_TIME_LIMIT)
if REDIS_URL and _late_acked_limit >= BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        f"BROKER_VISIBILITY_TIMEOUT ({BROKER_VISIBILITY_TIMEOUT} s) must be longer than the time limit of "
        f"every task acknowledged late ({_late_acked_limit} s), or Redis would hand a running task to a "
        "second worker."
    )
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it: a new PostgreSQL connection per reminder cost more than the send itself
# (bench/bench_reminders.py). Reused for this many tasks, then reopened (CONN_MAX_AGE and
# CONN_HEALTH_CHECKS still apply).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ANNOTATIONS = {
    "scheduler.reminder_send": {
        "time_limit": REMINDER_SEND_TIME_LIMIT,
        "soft_time_limit": max(1, REMINDER_SEND_TIME_LIMIT * 3 // 4),
    },
    "scheduler.nurse_digest_send": {
        "time_limit": DIGEST_SEND_TIME_LIMIT,
        "soft_time_limit": DIGEST_SEND_TIME_LIMIT * 3 // 4,
    },
    # A chunk stops itself after half of this and queues the rest; the soft limit equals the
    # hard one (the global soft limit is longer, and Celery refuses a soft limit above it).
    "scheduler.plans_extend_chunk": {
        "time_limit": PLAN_EXTEND_CHUNK_TIME_LIMIT,
        "soft_time_limit": PLAN_EXTEND_CHUNK_TIME_LIMIT,
    },
}

# --- SMS -------------------------------------------------------------------------------
# Pluggable: the console backend logs (without the message body) instead of sending.
SMS_BACKEND = env.str("SMS_BACKEND", default="scheduler.reminders.sms.ConsoleSMSBackend")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_TIMEOUT = env.int("TWILIO_TIMEOUT", default=15)  # seconds

# --- Calendar feeds ---------------------------------------------------------------------
# Requests per feed link per window (a polite calendar app polls every few hours; a
# runaway one gets 429 with Retry-After). 0 turns the limit off.
FEED_RATE_LIMIT = env.int("FEED_RATE_LIMIT", default=60)
FEED_RATE_WINDOW = env.int("FEED_RATE_WINDOW", default=60 * 60)
# For this long after a feed link was checked against the database, further requests
# for it are answered from the cache without SQL (so a change reaches the feed at most
# this much later; revoking a link is immediate). 0 checks every request.
FEED_FRESH_SECONDS = env.int("FEED_FRESH_SECONDS", default=60)
# How long a rendered feed stays in the shared cache (a change renders it again anyway).
FEED_CACHE_SECONDS = env.int("FEED_CACHE_SECONDS", default=24 * 60 * 60)
# A feed link's last use is written at most this often (no database write per poll).
FEED_TOUCH_SECONDS = env.int("FEED_TOUCH_SECONDS", default=5 * 60)

# --- Nurse pages ----------------------------------------------------------------------
# Minutes a recorded recurrence or a discharge can be undone (then: resume surveillance
# with a new remission date). Read when the change is made; a change keeps its deadline.
SURVEILLANCE_UNDO_MINUTES = env.int("SURVEILLANCE_UNDO_MINUTES", default=15)
if SURVEILLANCE_UNDO_MINUTES < 1:
    raise ImproperlyConfigured(
        f"SURVEILLANCE_UNDO_MINUTES must be at least 1, got {SURVEILLANCE_UNDO_MINUTES}: a nurse needs a "
        "moment to undo a recurrence or a discharge recorded by mistake."
    )

# --- Survivorship care plans ---------------------------------------------------------
# Days a one-time link for the primary care provider stays usable (it also stops after one use).
CAREPLAN_LINK_DAYS = env.int("CAREPLAN_LINK_DAYS", default=14)

# --- Email ----------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"Follow-up care team <no-reply@{SITE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "survivorship.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "survivorship.auth.EmailOrUsernameBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "survivorship.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
]
# Sign-in and password forms refuse longer passwords before any hashing.
PASSWORD_MAX_LENGTH = 128
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "landing"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day
# Password-reset requests (survivorship.passwords): emails per address and requests per
# client address, per window; the page answers the same whether or not the address is known.
PASSWORD_RESET_PER_ADDRESS = env.int("PASSWORD_RESET_PER_ADDRESS", default=3)
PASSWORD_RESET_PER_CLIENT = env.int("PASSWORD_RESET_PER_CLIENT", default=20)
PASSWORD_RESET_WINDOW = env.int("PASSWORD_RESET_WINDOW", default=60 * 60)

# Two-factor sign-in (survivorship.twofactor, django-otp): required of nurses and
# administrators when on, which is the default whenever DEBUG is off; patients may turn
# it on for themselves. `make run` runs with DEBUG on, so the demo logins need no code.
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Follow-up care")
# The admin lists people's devices (to reset a lost phone) but never shows their secret
# keys or recovery codes: nobody but the person can produce their codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Staff are signed out after this many seconds without a request (0 = never).
STAFF_IDLE_TIMEOUT = env.int("STAFF_IDLE_TIMEOUT", default=30 * 60)

# Sign-in lockout (django-axes with survivorship.lockout.AccountAndAddressHandler).
# AXES_FAILURE_LIMIT failures against one account (whatever username or email spelling
# was typed) lock it; LOGIN_ADDRESS_FAILURE_LIMIT failures from one client address
# (whatever accounts were tried) lock the address. A lock lasts LOGIN_LOCKOUT_MINUTES
# after the last failure; unknown accounts are locked exactly like real ones.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_HANDLER = "survivorship.lockout.AccountAndAddressHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "survivorship.auth.lockout_key"
AXES_CLIENT_IP_CALLABLE = "survivorship.auth.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_LOCKOUT_CALLABLE = "survivorship.lockout.lockout_response"
# Reverse proxies in front of the app that append to X-Forwarded-For (the client address
# used by the lockout and the password-reset limit). Behind one TLS proxy (the production
# layout, see SECURE_PROXY_SSL_HEADER) that is 1; 0 trusts REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0 if DEBUG else 1)

# --- I18N / time ----------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
# The organisation's usual patient time zones, offered first in every time-zone list
# (then the zones its teams' patients already use).
USUAL_TIME_ZONES = env.list("USUAL_TIME_ZONES", default=["Europe/London"])
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"  # WhiteNoise warns when it is missing: `make run` creates it
# Hashed, compressed file names need `collectstatic` first (production); off in development
# and in the tests, which serve the files from static/ as they are.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_site.scheme == "https")
    SESSION_COOKIE_SECURE = _site.scheme == "https"
    CSRF_COOKIE_SECURE = _site.scheme == "https"
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _site.scheme == "https" else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
    SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0

# Content-Security-Policy (django-csp) on every response: scripts, styles, images and
# fonts only from this site (no inline script, style attribute or event handler: every
# template is checked by tests/survivorship/test_headers.py), no plugins, no framing, forms
# post only here. `data:` images are Bootstrap's SVG icons in its CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- Logging: never log secrets or feed tokens (see survivorship.logging) -------------
# Django's default configuration gives its loggers their own handlers (one printing only
# with DEBUG on, one mailing admins); here every logger goes through the one redacting
# handler, in every mode. Every record is also redacted when created, whatever handler
# prints it (survivorship.logging.install, run when the app is ready).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "survivorship.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "axes": {"level": "WARNING"},
        # WeasyPrint (care-plan PDFs) logs every layout step at INFO; fontTools its subsetting.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
