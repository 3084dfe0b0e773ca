"""The forms of a rendered page, read from its HTML like a browser would submit them (shared
by the fuzz test and the double-submit tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)

    def variants(self) -> list[list[tuple[str, str]]]:
        """The data of each way to submit it (one per named submit button)."""
        if not self.buttons:
            return [list(self.fields)]
        return [[*self.fields, button] for button in self.buttons]


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.by_id: dict[str, Form] = {}
        self.current: Form | None = None
        self.orphans: list[tuple[str, Form]] = []
        self.select: tuple[str, Form | None, list[str], list[str]] | None = None
        self.textarea: tuple[str, Form | None, list[str]] | None = None

    def _target(self, attrs: dict) -> Form | None:
        if attrs.get("form"):  # form="id": the form may come later in the page
            orphan = Form("", "")
            self.orphans.append((attrs["form"], orphan))
            return orphan
        return self.current

    def close(self) -> None:
        super().close()
        for form_id, orphan in self.orphans:
            if (owner := self.by_id.get(form_id)) is not None:
                owner.fields += orphan.fields
                owner.buttons += orphan.buttons
                for name, values in orphan.choices.items():
                    owner.choices.setdefault(name, []).extend(values)

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.page
            self.current = Form(action=action, method=(a.get("method") or "get").lower())
            self.forms.append(self.current)
            if a.get("id"):
                self.by_id[a["id"]] = self.current
            return
        if tag == "option" and self.select:
            value = a.get("value")
            self.select[2].append(value if value is not None else "")
            if "selected" in a:
                self.select[3].append(value or "")
            return
        name = a.get("name")
        target = self._target(a)
        if not name or target is None or "disabled" in a:
            return
        if tag == "input":
            self._input(target, name, a)
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            target.buttons.append((name, a.get("value", "")))
        elif tag == "select":
            self.select = (name, target, [], [])
        elif tag == "textarea":
            self.textarea = (name, target, [])

    @staticmethod
    def _input(target: Form, name: str, a: dict) -> None:
        kind = a.get("type", "text").lower()
        if kind in {"submit", "image"}:
            target.buttons.append((name, a.get("value", "")))
        elif kind in {"checkbox", "radio"}:
            target.choices.setdefault(name, []).append(a.get("value", "on"))
            if "checked" in a:
                target.fields.append((name, a.get("value", "on")))
        elif kind not in {"reset", "button", "file"}:
            target.fields.append((name, a.get("value", "")))

    def handle_data(self, data):
        if self.textarea:
            self.textarea[2].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select" and self.select:
            name, target, options, selected = self.select
            target.choices[name] = options
            chosen = selected or options[:1]
            target.fields.extend((name, value) for value in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea:
            name, target, text = self.textarea
            target.fields.append((name, "".join(text).lstrip("\n")))
            self.textarea = None


def forms_of(page: str, html: str) -> list[Form]:
    parser = _Forms(page)
    parser.feed(html)
    parser.close()
    return parser.forms


def form_data(form: Form, **changes: str) -> dict[str, list[str]]:
    """What the browser would post (the first submit button), with ``changes`` applied."""
    data: dict[str, list[str]] = {}
    for name, value in form.variants()[0]:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        data[name] = [value]
    return data


def form_posting_to(forms: list[Form], suffix: str) -> Form:
    matches = [f for f in forms if f.method == "post" and f.action.endswith(suffix)]
    assert matches, f"no form posts to ...{suffix}"
    return matches[0]
