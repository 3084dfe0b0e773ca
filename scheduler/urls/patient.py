"""URLs of the patient side (namespace "patient")."""

from django.urls import path  # noqa: F401

app_name = "patient"

urlpatterns: list = []
