"""Landing, login/logout, role-based navigation and who may use the admin."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.urls import reverse

from tests.factories import AdministratorFactory, NurseFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_landing_page_explains_the_product_and_leads_to_login(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "follow-up calendar" in html
    assert reverse("login") in html
    assert '<main id="main"' in html  # landmark
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html  # vendored, no CDN
    assert "cdn" not in html.lower()


def test_nurse_logs_in_with_username_and_out_again(client):
    nurse = NurseFactory()
    response = client.post(reverse("login"), {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code in {200, 302}
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_patient_logs_in_with_email_case_insensitively(client):
    patient = UserFactory(email="Someone@Example.test")
    response = client.post(reverse("login"), {"username": "someone@example.TEST", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == patient.pk


def test_wrong_password_shows_an_error_not_a_500(client):
    NurseFactory(username="nurse.x")
    response = client.post(reverse("login"), {"username": "nurse.x", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()


@pytest.mark.parametrize(
    ("factory", "expected", "absent"),
    [
        (UserFactory, [], ["Administration", "Caseload"]),
        (NurseFactory, [], ["Administration"]),
        (AdministratorFactory, ["Administration"], ["Caseload"]),
    ],
)
def test_navigation_depends_on_the_role(client, factory, expected, absent):
    user = factory()
    client.force_login(user)
    html = client.get("/", follow=True).content.decode()
    assert user.get_role_display() in html
    for label in expected:
        assert label in html
    for label in absent:
        assert f">{label}<" not in html


def test_anonymous_navigation_offers_sign_in_only(client):
    html = client.get("/").content.decode()
    assert "Sign in" in html
    assert "Sign out" not in html


@pytest.mark.parametrize("factory", [UserFactory, NurseFactory])
def test_nurses_and_patients_never_see_the_admin(client, factory):
    client.force_login(factory())
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_staff_flag_on_a_nurse_does_not_open_the_admin(client):
    client.force_login(NurseFactory(is_staff=True))
    assert client.get("/admin/").status_code == 302


def test_administrator_gets_the_admin(client):
    client.force_login(AdministratorFactory())
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/survivorship/patient/").status_code == 200


def test_password_change_requires_login_and_works(client):
    user = NurseFactory()
    assert client.get(reverse("password_change")).status_code == 302
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-secret-9",
            "new_password2": "a-new-long-secret-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-secret-9")


def test_password_reset_sends_an_email_with_a_working_link(client, mailoutbox):
    user = UserFactory(email="reset.me@example.test")
    response = client.post(reverse("password_reset"), {"email": "reset.me@example.test"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    link = next(line for line in body.splitlines() if "/accounts/reset/" in line)
    path = urlparse(link.strip()).path
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "brand-new-pass-77", "new_password2": "brand-new-pass-77"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-77")


def test_password_reset_for_an_unknown_address_reveals_nothing(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mailoutbox == []
