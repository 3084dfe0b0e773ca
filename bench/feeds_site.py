"""Settings used by bench/bench_feeds.py only (never by the app): the project's settings
with the URLs of bench/feeds_urls.py (the project's, plus one bare view)."""

from survivorship.settings import *  # noqa: F403

ROOT_URLCONF = "bench.feeds_urls"
