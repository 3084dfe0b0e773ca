"""Invitations: a nurse of the patient's team invites them by email; the link is single
use, expires, and a newer invitation revokes the older; accepting sets a password and
signs the patient in, and they can then log in with their email address."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from scheduler.invitations.services import (
    INVITATION_DAYS,
    InvitationError,
    invitation_accept,
    invitation_send,
)
from scheduler.models import Invitation
from tests.factories import (
    AdministratorFactory,
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "sunlit-harbour-1987"


@pytest.fixture
def patient(nurse):
    patient = PatientFactory(
        care_team=CareTeamFactory(nurses=[nurse]), email="Jo.Bloggs@Example.test", display_name="Jo Bloggs"
    )
    CancerCaseFactory(patient=patient)
    return patient


def _link_from(message) -> str:
    match = re.search(r"https?://\S+/me/invitation/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


def _send(client, nurse, patient) -> str:
    client.force_login(nurse)
    response = client.post(reverse("nurse:invite", args=[patient.pk]))
    assert response.status_code == 302
    client.logout()
    return _link_from(mail.outbox[-1])


# --- sending -------------------------------------------------------------------------------------


def test_the_invitation_page_lives_under_the_nurse_pages_and_its_old_address_redirects(
    client, nurse, patient
):
    assert reverse("nurse:invite", args=[patient.pk]) == f"/nurse/patients/{patient.pk}/invite/"
    client.force_login(nurse)
    old = client.get(f"/me/invite/{patient.pk}/")
    assert old.status_code == 301 and old["Location"] == f"/nurse/patients/{patient.pk}/invite/"
    assert client.post(f"/me/invite/{patient.pk}/").status_code == 405  # nothing is sent from the old one
    assert mail.outbox == []
    assert client.get(f"/me/invite/{2**63}/", follow=True).status_code == 404


def test_a_nurse_of_the_team_sends_an_invitation_email(client, nurse, patient):
    client.force_login(nurse)
    page = client.get(reverse("nurse:invite", args=[patient.pk]))
    assert page.status_code == 200
    assert "jo.bloggs@example.test" in page.content.decode().lower()
    client.post(reverse("nurse:invite", args=[patient.pk]))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jo.bloggs@example.test"]
    assert "Jo Bloggs" in message.body
    assert f"{INVITATION_DAYS} days" in message.body
    assert message.alternatives and "Choose my password" in message.alternatives[0][0]
    invitation = Invitation.objects.get(patient=patient)
    raw = _link_from(message)
    assert raw not in invitation.token_hash  # only the hash is stored


@pytest.mark.parametrize("who", ["nurse_of_other_team", "administrator", "patient", "anonymous"])
def test_only_a_nurse_of_the_patients_team_can_invite(client, patient, who):
    if who == "nurse_of_other_team":
        client.force_login(NurseFactory())
        expected = 404
    elif who == "administrator":
        client.force_login(AdministratorFactory())
        expected = 403
    elif who == "patient":
        client.force_login(UserFactory())
        expected = 403
    else:
        expected = 302
    response = client.post(reverse("nurse:invite", args=[patient.pk]))
    assert response.status_code == expected
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_a_patient_without_email_cannot_be_invited_and_the_nurse_is_told(client, nurse, patient):
    patient.email = ""
    patient.save()
    client.force_login(nurse)
    response = client.post(reverse("nurse:invite", args=[patient.pk]), follow=True)
    assert "Add the patient&#x27;s email address" in response.content.decode()
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_an_email_used_by_a_staff_account_is_refused(nurse, patient):
    NurseFactory(email="jo.bloggs@example.test")
    with pytest.raises(InvitationError, match="Another account already uses"):
        invitation_send(patient=patient, actor=nurse)
    assert mail.outbox == []


def test_a_failed_email_leaves_no_usable_invitation(nurse, patient, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    with pytest.raises(InvitationError, match="could not be sent"):
        invitation_send(patient=patient, actor=nurse)
    invitation = Invitation.objects.get(patient=patient)
    assert invitation.revoked_at is not None


def test_inviting_again_revokes_the_earlier_link(client, nurse, patient):
    first = _send(client, nurse, patient)
    second = _send(client, nurse, patient)
    response = client.get(reverse("patient:invitation_accept", args=[first]))
    assert response.status_code == 410
    assert "A newer invitation has replaced this one" in response.content.decode()
    assert client.get(reverse("patient:invitation_accept", args=[second])).status_code == 200


# --- accepting -------------------------------------------------------------------------------------


def test_accepting_sets_a_password_signs_in_and_email_login_works(client, nurse, patient):
    raw = _send(client, nurse, patient)
    url = reverse("patient:invitation_accept", args=[raw])
    page = client.get(url)
    assert page.status_code == 200
    assert "Choose a password" in page.content.decode()
    response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("patient:calendar")
    patient.refresh_from_db()
    user = patient.user
    assert user is not None and user.is_patient
    assert user.email == "jo.bloggs@example.test"
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.get(reverse("patient:calendar")).status_code == 200
    client.logout()
    login = client.post(reverse("login"), {"username": "JO.BLOGGS@example.test", "password": NEW_PASSWORD})
    assert login.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_an_invitation_works_only_once(client, nurse, patient):
    raw = _send(client, nurse, patient)
    url = reverse("patient:invitation_accept", args=[raw])
    client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client.logout()
    again = client.post(url, {"new_password1": "another-pass-4242", "new_password2": "another-pass-4242"})
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    patient.refresh_from_db()
    assert patient.user.check_password(NEW_PASSWORD)
    with pytest.raises(InvitationError):
        invitation_accept(raw=raw, password="another-pass-4242")


def test_an_invitation_expires_after_seven_days(client, nurse, patient):
    start = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        raw = _send(client, nurse, patient)
    url = reverse("patient:invitation_accept", args=[raw])
    with time_machine.travel(start + dt.timedelta(days=INVITATION_DAYS, minutes=-1), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(start + dt.timedelta(days=INVITATION_DAYS, minutes=1), tick=False):
        response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 410
        assert "This invitation has expired" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user is None


def test_an_unknown_link_gets_a_clear_404_page(client):
    response = client.get(reverse("patient:invitation_accept", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "We do not recognise this link" in response.content.decode()


def test_a_weak_password_is_refused_with_the_validators_message(client, nurse, patient):
    raw = _send(client, nurse, patient)
    url = reverse("patient:invitation_accept", args=[raw])
    response = client.post(url, {"new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "too common" in html or "too short" in html
    assert Invitation.objects.get(patient=patient).accepted_at is None
    patient.refresh_from_db()
    assert patient.user is None
    assert "_auth_user_id" not in client.session


def test_a_password_like_the_patients_email_is_refused(client, nurse, patient):
    raw = _send(client, nurse, patient)
    url = reverse("patient:invitation_accept", args=[raw])
    response = client.post(url, {"new_password1": "jo.bloggs.example", "new_password2": "jo.bloggs.example"})
    assert response.status_code == 200
    assert "too similar" in response.content.decode()


def test_accepting_links_an_existing_patient_login_instead_of_creating_another(client, nurse, patient):
    existing = UserFactory(email="jo.bloggs@example.test")
    patient.user = existing
    patient.save()
    raw = _send(client, nurse, patient)
    client.post(
        reverse("patient:invitation_accept", args=[raw]),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    existing.refresh_from_db()
    assert existing.check_password(NEW_PASSWORD)
    patient.refresh_from_db()
    assert patient.user_id == existing.pk


def test_a_changed_email_address_invalidates_the_link(client, nurse, patient):
    raw = _send(client, nurse, patient)
    patient.email = "new.address@example.test"
    patient.save()
    response = client.get(reverse("patient:invitation_accept", args=[raw]))
    assert response.status_code == 410


def test_the_nurse_patient_page_links_to_the_invitation_until_the_patient_has_a_login(client, nurse, patient):
    client.force_login(nurse)
    invite_url = reverse("nurse:invite", args=[patient.pk])
    assert invite_url in client.get(reverse("nurse:patient", args=[patient.pk])).content.decode()
    patient.user = UserFactory()
    patient.save(update_fields=["user"])
    html = client.get(reverse("nurse:patient", args=[patient.pk])).content.decode()
    assert invite_url not in html
    assert "has a patient login" in html
