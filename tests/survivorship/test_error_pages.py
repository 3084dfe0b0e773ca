"""Friendly error pages (issue 14, point 12): 400, 403, 404, 429 and 500 in the site's
layout, in plain words, with a way back; tested with DEBUG off. The 500 page needs neither
the database nor a signed-in user."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import override_settings
from django.urls import path, reverse
from django.views.defaults import server_error

from survivorship.urls import urlpatterns as site_urlpatterns
from tests.factories import NurseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False


def _boom(request):
    raise RuntimeError("database on fire")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [*site_urlpatterns, path("test-500/", _boom), path("test-403/", _forbidden)]


def in_layout(html: str) -> bool:
    return '<main id="main"' in html and "/static/vendor/bootstrap/bootstrap.min.css" in html


def test_a_patient_opening_a_nurse_address_gets_a_friendly_403(client):
    client.force_login(UserFactory())  # a patient
    response = client.get(reverse("nurse:caseload"))
    html = response.content.decode()
    assert response.status_code == 403
    assert in_layout(html)
    assert "This page is not available to you" in html
    assert "contact your care team" in html
    assert 'data-testid="error-home"' in html
    assert "My calendar" in html  # the patient's own navigation is still there
    assert "403 Forbidden" not in html


def test_a_nurse_opening_the_admin_gets_the_same_403_not_a_sign_in_loop(client):
    client.force_login(NurseFactory())
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403
    assert "This page is not available to you" in response.content.decode()


def test_an_unknown_address_gets_a_friendly_404(client):
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert in_layout(html)
    assert "We cannot find this page" in html
    assert 'href="/"' in html  # anonymous: back to the start page


def test_a_signed_in_person_is_sent_home_from_a_404(client):
    client.force_login(UserFactory())
    html = client.get("/no/such/page/").content.decode()
    assert f'href="{reverse("home")}"' in html


def test_a_form_posted_without_its_csrf_token_gets_a_plain_explanation(client):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(NurseFactory())
    response = csrf_client.post(reverse("nurse:enrol"), {})
    html = response.content.decode()
    assert response.status_code == 403
    assert in_layout(html)
    assert "This form has expired" in html
    assert "Nothing was changed" in html


def test_too_many_password_resets_get_a_friendly_429(client, settings):
    settings.PASSWORD_RESET_PER_CLIENT = 1
    client.post(reverse("password_reset"), {"email": "a@example.test"})
    response = client.post(reverse("password_reset"), {"email": "b@example.test"})
    html = response.content.decode()
    assert response.status_code == 429
    assert in_layout(html)
    assert "Too many tries in a short time" in html
    assert int(response["Retry-After"]) > 0


@override_settings(ROOT_URLCONF=__name__)
def test_a_crash_gets_a_friendly_500_in_the_layout(client):
    client.raise_request_exception = False
    client.force_login(NurseFactory())
    response = client.get("/test-500/")
    html = response.content.decode()
    assert response.status_code == 500
    assert in_layout(html)
    assert "Something went wrong on our side" in html
    assert "It is not something you did" in html
    assert "database on fire" not in html  # nothing of the error leaks
    assert "Traceback" not in html


@override_settings(ROOT_URLCONF=__name__)
def test_a_permission_error_raised_anywhere_gets_the_friendly_403(client):
    response = client.get("/test-403/")
    assert response.status_code == 403
    assert "This page is not available to you" in response.content.decode()


def test_the_500_page_needs_neither_the_database_nor_a_user(rf, django_db_blocker, monkeypatch):
    request = rf.get("/anything/")  # no session, no user: as after a database failure

    def no_database(*args, **kwargs):
        raise AssertionError("the 500 page touched the database")

    monkeypatch.setattr(connection, "cursor", no_database)
    with django_db_blocker.block():
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert in_layout(html)
    assert "Something went wrong on our side" in html
    assert 'href="/"' in html  # back to the start page


def test_a_bad_request_gets_a_friendly_400(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/", HTTP_HOST="evil.example")
    html = response.content.decode()
    assert response.status_code == 400
    assert in_layout(html)
    assert "Something in the request was not right" in html
