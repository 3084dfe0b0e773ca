"""``{% submission_key %}``: the hidden field that makes a form's repeated post a no-op
(``scheduler.submissions``). A builtin of the template engine (settings), so templates need
no ``{% load %}``."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from scheduler.submissions import FIELD, new_key

register = template.Library()


@register.simple_tag
def submission_key() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_key())
