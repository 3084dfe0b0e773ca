"""URLs used by bench/bench_feeds.py only: the project's URLs plus one bare Django view
returning a short text, the floor a Django app cannot beat (same middleware as the feeds)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello from Django\n", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("bench/hello", hello),
    path("", include("survivorship.urls")),
]
