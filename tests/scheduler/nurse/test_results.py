"""The nurse records results per analyte: the event page's form (one field group per
analyte), the quick "record as done" on the patient page, errors beside their field with
everything typed kept, per-analyte cards and charts, flat query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import AnalyteResult, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory, marker_result

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nurse():
    return NurseFactory(time_zone="Europe/London")


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def enrol(nurse, cancer_type="testicular-nonseminoma", share=False, **case):
    team = CareTeamFactory(nurses=[nurse])
    team.organisation.share_results_by_default = share
    team.organisation.save()
    patient = PatientFactory.build(care_team=team, organisation=team.organisation)
    case = CancerCase(cancer_type=cancer_type, facts={}, remission_date=dt.date(2026, 2, 1), **case)
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return Patient.objects.get(pk=patient.pk)


def panel(patient) -> ScheduledEvent:
    return ScheduledEvent.objects.filter(patient=patient, item_id="markers", status="planned").order_by(
        "due_date"
    )[0]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def post(client, event, **fields):
    data = {f"e{event.pk}-complete-{name}": value for name, value in fields.items()}
    data.setdefault(f"e{event.pk}-complete-version", event.version)
    return client.post(reverse("nurse:event_action", args=[event.pk, "complete"]), data)


def test_the_event_page_asks_for_each_analyte_with_its_units(client_nurse, nurse):
    event = panel(enrol(nurse))
    body = text(client_nurse.get(reverse("nurse:event", args=[event.pk])))
    for name, loinc in [
        ("Alpha-fetoprotein (AFP)", "1834-1"),
        ("Beta human chorionic gonadotropin", "21198-7"),
    ]:
        assert name in body and f"LOINC {loinc}" in body
    assert f'name="e{event.pk}-complete-afp__value"' in body
    units = re.search(rf'<select name="e{event.pk}-complete-hcg-beta__unit"[^>]*>(.*?)</select>', body).group(
        1
    )
    assert re.findall(r'value="([^"]+)"', units) == ["IU/L", "mIU/mL"]
    assert f'name="e{event.pk}-complete-ldh__reference_high"' in body
    assert "Not measured" in body and "Share with the patient now" in body


def test_a_wrong_unit_is_refused_beside_its_field_and_every_typed_value_stays(client_nurse, nurse):
    event = panel(enrol(nurse))
    response = post(
        client_nurse, event, completed_on="2026-06-14",
        afp__value="4.1", afp__unit="mmol/L", afp__assessment="normal",
        **{"hcg-beta__value": "12", "hcg-beta__unit": "IU/L", "hcg-beta__reference_high": "5"},
        ldh__value="410", ldh__unit="U/L", ldh__assessment="abnormal", result_text="Sample haemolysed",
    )  # fmt: skip
    assert response.status_code == 400
    body = text(response)
    assert "AFP: &#x27;mmol/L&#x27; is not a unit for AFP (use ng/mL or µg/L or kU/L or IU/mL)" in body
    assert 'value="4.1"' in body and 'value="12"' in body and 'value="5"' in body and 'value="410"' in body
    assert "Sample haemolysed" in body
    event.refresh_from_db()
    assert event.status == "planned" and not AnalyteResult.objects.exists()


def test_an_impossible_value_is_refused_with_the_possible_range(client_nurse, nurse):
    event = panel(enrol(nurse))
    response = post(
        client_nurse, event, completed_on="2026-06-14", afp__value="2000000", afp__unit="ng/mL",
        afp__assessment="abnormal", **{"hcg-beta__assessment": "not-measured"}, ldh__assessment="normal",
    )  # fmt: skip
    assert response.status_code == 400
    assert "possible values: 0 to 1000000 ng/mL" in text(response)
    assert not AnalyteResult.objects.exists()


def test_a_partial_panel_is_recorded_and_shown_per_analyte_on_the_card(client_nurse, nurse):
    patient = enrol(nurse)
    event = panel(patient)
    response = post(
        client_nurse, event, completed_on="2026-06-14", afp__value="3.2", afp__unit="ng/mL",
        afp__assessment="normal", **{"hcg-beta__assessment": "not-measured"},
        ldh__value="410", ldh__unit="U/L", ldh__reference_low="135", ldh__reference_high="225",
        result_shared="no",
    )  # fmt: skip
    assert response.status_code == 302
    rows = {r.analyte_id: r for r in AnalyteResult.objects.filter(event=event)}
    assert set(rows) == {"afp", "ldh"} and rows["ldh"].flag == "high" and rows["ldh"].assessment == "abnormal"
    # The redirect goes to the patient page with the (folded) year of the event opened.
    assert "?open=" in response["Location"] and response["Location"].endswith(f"#event-{event.pk}")
    body = text(client_nurse.get(response["Location"]))
    card = body.split(f'id="event-{event.pk}"', 1)[1].split("</article>", 1)[0]
    assert "Alpha-fetoprotein (AFP)" in card and "3.2 ng/mL" in card
    assert "410 U/L" in card and "above the reference range (135–225 U/L, laboratory)" in card
    assert "not shared with the patient" in card
    assert "Beta human" not in card


def test_the_quick_form_asks_normal_or_abnormal_per_analyte_and_sharing_defaults_to_the_organisation(
    client_nurse, nurse
):
    patient = enrol(nurse, share=True)
    event = panel(patient)
    body = text(client_nurse.get(reverse("nurse:patient", args=[patient.pk])))
    card = body.split(f'id="event-{event.pk}"', 1)[1].split("</article>", 1)[0]
    assert reverse("nurse:event_quick", args=[event.pk]) in card  # loaded when "Actions" is opened
    quick = text(client_nurse.get(reverse("nurse:event_quick", args=[event.pk])))
    for key in ("afp", "hcg-beta", "ldh"):
        assert f'name="e{event.pk}-complete-{key}__assessment" value="normal"' in quick
        assert f'name="e{event.pk}-complete-{key}__assessment" value="abnormal"' in quick
    assert re.search(r'id="q\d+-share-yes" name="e\d+-complete-result_shared" value="yes" checked', quick)
    # What the quick form posts (no laboratory range): a value judged by the nurse, two normal/abnormal.
    response = post(
        client_nurse, event, completed_on="2026-06-15",
        afp__value="3", afp__unit="ng/mL", afp__assessment="normal",
        **{"hcg-beta__value": "", "hcg-beta__unit": "IU/L", "hcg-beta__assessment": "normal"},
        ldh__value="", ldh__unit="U/L", ldh__assessment="abnormal", result_shared="yes",
        next=reverse("nurse:patient", args=[patient.pk]),
    )  # fmt: skip
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.result_shared and event.result_flag == "abnormal"
    assert AnalyteResult.objects.filter(event=event).count() == 3


def test_quick_form_left_unassessed_is_refused_not_silently_unflagged(client_nurse, nurse):
    event = panel(enrol(nurse))
    response = post(client_nurse, event, completed_on="2026-06-15", afp__value="3", afp__unit="ng/mL")
    assert response.status_code == 400
    body = text(response)
    assert "AFP: there is no reference range to judge 3 ng/mL against" in body
    assert (
        "Beta-hCG: enter the value, say whether it was normal or abnormal, or mark it as not measured" in body
    )
    event.refresh_from_db()
    assert event.status == "planned"


def test_correcting_a_result_prefills_each_analyte(client_nurse, nurse):
    event = panel(enrol(nurse))
    post(
        client_nurse, event, completed_on="2026-06-14", afp__value="3.2", afp__unit="kU/L",
        afp__reference_high="7", **{"hcg-beta__assessment": "not-measured"}, ldh__assessment="normal",
    )  # fmt: skip
    body = text(client_nurse.get(reverse("nurse:event", args=[event.pk])))
    assert "Correct the result" in body
    assert re.search(rf'name="e{event.pk}-complete-afp__value" value="3.2"', body)
    assert re.search(r'<option value="kU/L" selected>kU/L</option>', body)
    assert re.search(
        rf'name="e{event.pk}-complete-hcg-beta__assessment" value="not-measured"[^>]*checked', body
    )


def test_each_analyte_has_its_chart_and_rising_flag(client_nurse, nurse):
    patient = enrol(nurse, marker_references={"afp": "8"})
    for n, (afp, hcg) in enumerate([("3", "1"), ("2.8", "4"), ("3.1", "9")]):
        day = dt.date(2026, 3 + n, 1)
        marker_result(patient, key=f"m#{n}a", on=day, value=afp, item_id="markers", analyte_id="afp")
        marker_result(
            patient, key=f"m#{n}b", on=day, value=hcg, unit="IU/L", item_id="markers", analyte_id="hcg-beta"
        )
    body = text(client_nurse.get(reverse("nurse:patient", args=[patient.pk])))
    assert (
        "Alpha-fetoprotein (AFP) (ng/mL)" in body
        and "Beta human chorionic gonadotropin (beta-hCG) (IU/L)" in body
    )
    assert "▲ Beta-hCG rising" in body and "▲ AFP rising" not in body
    assert "Flagged because Beta-hCG rose at each of the last two results." in body
    assert "Patient's reference value (dashed): 8 ng/mL" in body
    assert body.count('class="marker-chart chart-wide') == 2


def test_patient_page_queries_do_not_grow_with_results(client_nurse, nurse, django_assert_max_num_queries):
    patient = enrol(nurse)
    url = reverse("nurse:patient", args=[patient.pk])
    marker_result(patient, key="m#0", on=dt.date(2026, 3, 1), value="3", item_id="markers", analyte_id="afp")
    client_nurse.get(url)
    with django_assert_max_num_queries(40) as small:
        client_nurse.get(url)
    for n in range(1, 25):
        day = dt.date(2026, 3, 1) + dt.timedelta(days=3 * n)
        marker_result(patient, key=f"m#{n}", on=day, value=str(n), item_id="markers", analyte_id="afp")
        marker_result(
            patient, key=f"h#{n}", on=day, value="1", unit="IU/L", item_id="markers", analyte_id="hcg-beta"
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert "24 ng/mL" in text(client_nurse.get(url))
    for name in ("nurse:caseload", "nurse:worklist"):
        client_nurse.get(reverse(name))
        with django_assert_max_num_queries(12):
            client_nurse.get(reverse(name))


def test_values_are_never_shown_with_more_precision_than_typed(client_nurse, nurse):
    patient = enrol(nurse)
    marker_result(
        patient, key="m#0", on=dt.date(2026, 3, 1), value="0.040", item_id="markers", analyte_id="afp"
    )
    body = text(client_nurse.get(reverse("nurse:patient", args=[patient.pk])))
    assert "0.04 ng/mL" in body and "0.040000" not in body
    assert Decimal("0.04") == AnalyteResult.objects.get().value


def test_the_audit_trail_shows_who_recorded_and_corrected_each_analyte(client_nurse, nurse):
    patient = enrol(nurse)
    event = panel(patient)
    fields = {"hcg-beta__assessment": "not-measured", "ldh__assessment": "normal"}
    post(
        client_nurse,
        event,
        completed_on="2026-06-14",
        afp__value="3.2",
        afp__unit="ng/mL",
        afp__assessment="normal",
        **fields,
    )
    event.refresh_from_db()
    post(
        client_nurse,
        event,
        completed_on="2026-06-14",
        afp__value="3.4",
        afp__unit="ng/mL",
        afp__assessment="normal",
        **fields,
    )
    body = text(client_nurse.get(reverse("nurse:patient_audit", args=[patient.pk])))
    audit = body.split('id="audit-heading"', 1)[1]
    assert "Alpha-fetoprotein (AFP)" in audit and "Lactate dehydrogenase (LDH)" in audit
    assert re.search(
        r"Value</span>: <span class=\"change\">3.2</span> → <span class=\"change\">3.4</span>", audit
    )
