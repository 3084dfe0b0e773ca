"""Friendly error pages (issue 14, point 12): 400, 403, 404, 429 and 500 in the site's
layout, in plain words, with a way back; tested with DEBUG off. The 500 page needs neither
the database nor a signed-in user."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.test import override_settings
from django.urls import path, reverse
from django.views.defaults import server_error

from survivorship import urls as site_urls
from survivorship.urls import urlpatterns as site_urlpatterns
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False


def _boom(request):
    raise RuntimeError("database on fire")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [*site_urlpatterns, path("test-500/", _boom), path("test-403/", _forbidden)]
handler403, handler404 = site_urls.handler403, site_urls.handler404


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


# --- the care team's number on the 403 and 404 pages ---------------------------------------

PAGES = {403: "/test-403/", 404: "/no/such/page/"}


def _patient_user(phone: str):
    team = CareTeamFactory(phone=phone, opening_hours="Monday to Friday, 8:30 am to 5 pm")
    return PatientFactory(care_team=team, user=UserFactory()).user


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("status", PAGES)
def test_a_patient_is_given_their_teams_number_to_call_on_the_403_and_404_pages(client, status):
    client.force_login(_patient_user("+44 161 496 0123"))
    response = client.get(PAGES[status])
    html = response.content.decode()
    assert response.status_code == status
    assert '<a class="tel-link" href="tel:+441614960123">+44 161 496 0123</a>' in html
    assert "Monday to Friday, 8:30 am to 5 pm" in html


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("status", PAGES)
def test_a_patient_whose_team_has_no_number_is_told_where_to_find_it(client, status):
    client.force_login(_patient_user(""))
    response = client.get(PAGES[status])
    html = response.content.decode()
    assert response.status_code == status
    assert "tel:" not in html
    assert "Your care team's phone number is on your appointment letters." in html


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("status", PAGES)
def test_a_patient_account_with_no_patient_record_gets_the_page_without_a_number(client, status):
    client.force_login(UserFactory())
    response = client.get(PAGES[status])
    assert response.status_code == status
    assert "tel:" not in response.content.decode()
    assert "appointment letters" not in response.content.decode()


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("status", PAGES)
def test_a_nurse_is_not_shown_a_teams_number_as_if_a_patient(client, status):
    nurse = NurseFactory()
    CareTeamFactory(phone="+44 161 496 0123", nurses=[nurse])
    client.force_login(nurse)
    response = client.get(PAGES[status])
    html = response.content.decode()
    assert response.status_code == status
    assert "tel:" not in html and "appointment letters" not in html


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("status", PAGES)
def test_an_anonymous_visitor_is_shown_no_teams_number(client, status):
    CareTeamFactory(phone="+44 161 496 0123")
    response = client.get(PAGES[status])
    html = response.content.decode()
    assert response.status_code == status
    assert "tel:" not in html and "appointment letters" not in html


@override_settings(ROOT_URLCONF=__name__)
def test_the_403_page_of_a_patient_still_shows_when_the_team_cannot_be_read(client, monkeypatch):
    client.force_login(_patient_user("+44 161 496 0123"))

    def unreadable(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr("survivorship.views.care_team_for_patient_user", unreadable)
    response = client.get(PAGES[403])
    assert response.status_code == 403
    assert "This page is not available to you" in response.content.decode()


@override_settings(ROOT_URLCONF=__name__)
def test_the_500_page_stays_static_for_a_patient(client):
    client.raise_request_exception = False
    client.force_login(_patient_user("+44 161 496 0123"))
    response = client.get("/test-500/")
    assert response.status_code == 500
    assert "tel:" not in response.content.decode()  # no database read when the site is failing
