"""Settings, read from the environment.

Every knob a deployment needs is an environment variable; the defaults are the embedded set-up
(an SQLite file in a data directory, in-process layers) so a fresh machine runs with none set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("TENURE_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key from the environment, or one generated on first run and kept in the data directory."""
    if key := os.environ.get("TENURE_SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # Written in full under a name of its own, then linked into place: a process starting at the same
        # moment sees no file or the whole key, never an empty one (with the file created first and
        # written after, one such worker ran with an empty key and failed every e-mail it signed). If
        # two race, the first link wins and both read its key.
        draft = DATA_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = key_file.read_text().strip()
    if not key:
        raise RuntimeError(f"{key_file} is empty; delete it and a new key is generated")
    return key


SECRET_KEY = _secret_key()
DEBUG = _env_bool("TENURE_DEBUG")
ALLOWED_HOSTS = _env_list("TENURE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("TENURE_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "channels",
    "tenure.core",
    "tenure.customers",
    "tenure.inbox",
    "tenure.helpdesk",
    "tenure.journeys",
    "tenure.field",
    "tenure.surveys",
    "tenure.insights",
    "tenure.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tenure.urls"
WSGI_APPLICATION = "tenure.wsgi.application"
ASGI_APPLICATION = "tenure.asgi.application"

# Websockets (live chat, console presence). The in-memory layer reaches sockets of this process only;
# with several web processes set TENURE_CHANNEL_LAYER to a layer backend (e.g.
# "channels_redis.core.RedisChannelLayer", installed separately) and TENURE_CHANNEL_LAYER_URL to its server.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": os.environ.get("TENURE_CHANNEL_LAYER", "channels.layers.InMemoryChannelLayer"),
        **(
            {"CONFIG": {"hosts": [os.environ["TENURE_CHANNEL_LAYER_URL"]]}}
            if os.environ.get("TENURE_CHANNEL_LAYER_URL")
            else {}
        ),
    }
}
# Sites allowed to embed the chat widget (scheme://host[:port]); the server's own ALLOWED_HOSTS always are.
TENURE_CHAT_ORIGINS = _env_list("TENURE_CHAT_ORIGINS", "")

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
            ],
        },
    }
]


def _database(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            # Immediate transactions take the write lock up front, so two writers queue on the
            # busy timeout instead of failing with "database is locked" halfway through.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                "PRAGMA cache_size=-65536;PRAGMA temp_store=MEMORY;"
            ),
        }
        # A file, not memory, so worker processes and the browser tests' server share the test database.
        name = Path(config["NAME"])
        config["TEST"] = {"NAME": str(name.with_name(f"test_{name.stem}.sqlite3"))}
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Django's default (None) turns psycopg's prepared statements off altogether, even for a statement
        # executed with `prepare=True`. A threshold no statement reaches prepares only those: the outbox's
        # per-message `sent` mark, parsed and planned once per connection instead of once per message.
        # Django's own cursors bind on the client and never prepare.
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "prepare_threshold": 2**31 - 1}
    return config


DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tenure.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TENURE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The embedded server serves static files straight from the apps; no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# A bulk ingest of 10,000 events is a few megabytes; anything far beyond is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("TENURE_MAX_BODY_BYTES", 16 * 1024 * 1024))

# How long a worker may stay silent before the reaper treats its running tasks as orphaned.
TENURE_WORKER_STALE_SECONDS = float(os.environ.get("TENURE_WORKER_STALE_SECONDS", 60))
TENURE_WORKER_HEARTBEAT_SECONDS = float(os.environ.get("TENURE_WORKER_HEARTBEAT_SECONDS", 5))
TENURE_SWEEP_INTERVAL_SECONDS = float(os.environ.get("TENURE_SWEEP_INTERVAL_SECONDS", 5))
# When a sweep finds more due than one batch: how many drain tasks may run at once (one per worker you want
# busy) and how long one runs before handing over (see core/drain.py).
TENURE_DRAINERS = int(os.environ.get("TENURE_DRAINERS", 2))
TENURE_DRAIN_SECONDS = float(os.environ.get("TENURE_DRAIN_SECONDS", 10))
# A customer with no activity for this many days is marked lapsed by the sweeper.
TENURE_LAPSE_AFTER_DAYS = int(os.environ.get("TENURE_LAPSE_AFTER_DAYS", 180))
# Phone numbers written without a country code are read in this region (ISO 3166 code).
TENURE_PHONE_REGION = os.environ.get("TENURE_PHONE_REGION", "US")
# The share of missed arrival windows to announce before they open, on average (field.learning.last_look_bar).
TENURE_FIELD_ANNOUNCE_TARGET = float(os.environ.get("TENURE_FIELD_ANNOUNCE_TARGET", 0.98))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TENURE_LOG_LEVEL", "WARNING")},
}
