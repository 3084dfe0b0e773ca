"""One spelling throughout (issue 14, point 6): the UI, its messages and the protocol texts
are in British English. Ids (``tumor-marker``), CSS and the titles of cited sources keep
their own spelling."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)

AMERICAN = re.compile(
    r"\b(tumors?|colors?|favor\w*|behaviors?|centers?|organiz\w*|recogniz\w*|"
    r"analyz\w*|an?emia|esophag\w*|leukemi\w*|hemoglobin|estrogen\w*|pediatric\w*|diarrhea|edema|"
    r"lymphedema|enroll(?!ed|ing)\w*|canceled|canceling|labeled|labeling|gray|fiber|liters?|hematolog\w*|"
    r"program(?!me)s?|catalogs?|dialogs?|counseling|judgment|fetus|maneuver\w*)\b(?!-)",
    re.IGNORECASE,
)

TRANSLATED = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
# Keys whose strings are ids or citations, not prose.
NOT_PROSE = {
    "id", "kind", "slug", "source", "sources", "provider", "default_provider", "analytes", "values",
    "default", "exposures", "usual_exposures", "ucum", "loinc", "unit", "units",
}  # fmt: skip


def american(text: str) -> list[str]:
    return [m.group(0) for m in AMERICAN.finditer(text)]


def _template_words(path: Path) -> str:
    text = path.read_text()
    text = re.sub(r"<[^>]*>", " ", text)  # markup, classes and styles are not words
    return re.sub(r"{%\s*(url|load|static|include|extends|block|endblock)\b[^%]*%}", " ", text)


def _translated_strings(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in TRANSLATED
        ):
            found += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def _prose(value: object, key: str = "") -> list[str]:
    if key in NOT_PROSE:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _prose(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _prose(v, key)]
    return []


def test_the_pattern_finds_american_spellings_and_spares_british_ones_and_ids():
    assert american("A tumor marker, behavior, color, favorable, enrollment, canceled") == [
        "tumor", "behavior", "color", "favorable", "enrollment", "canceled",
    ]  # fmt: skip
    assert (
        american("A tumour marker, behaviour, colour, favourable, enrolment, cancelled, kind tumor-marker")
        == []
    )
    assert american("a screening programme") == []


def test_templates_are_in_british_english():
    problems = {}
    for template in sorted((BASE / "templates").rglob("*")):
        if template.suffix in {".html", ".txt"} and (found := american(_template_words(template))):
            problems[str(template.relative_to(BASE))] = found
    assert problems == {}


def test_messages_in_the_code_are_in_british_english():
    problems = {}
    for package in ("scheduler", "survivorship"):
        for module in sorted((BASE / package).rglob("*.py")):
            if "migrations" in module.parts:
                continue
            found = [w for s in _translated_strings(module) for w in american(s)]
            if found:
                problems[str(module.relative_to(BASE))] = found
    assert problems == {}


def test_protocol_and_catalogue_texts_are_in_british_english():
    problems = {}
    for path in sorted((BASE / "scheduler" / "protocols").rglob("*.toml")):
        data = tomllib.loads(path.read_text())
        found = [w for s in _prose(data) for w in american(s)]
        if found:
            problems[str(path.relative_to(BASE))] = found
    assert problems == {}
