"""URLs of the feeds side (namespace "feeds")."""

from django.urls import path

from scheduler.feeds import views as feeds

app_name = "feeds"

urlpatterns = [
    # GET and HEAD; the token is a bearer secret (logs redact it, see survivorship.logging).
    path("<str:token>.ics", feeds.feed, name="feed"),
]
