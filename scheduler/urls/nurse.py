"""URLs of the nurse side (namespace "nurse")."""

from django.urls import path  # noqa: F401

app_name = "nurse"

urlpatterns: list = []
