"""SMS backends: a small interface, a console backend (the default) and a Twilio adapter.

``settings.SMS_BACKEND`` names the class. A backend's ``send(to=, body=)`` returns the
provider's message id, and raises :class:`TransientSendError` for failures worth retrying
(network, 429, 5xx) or :class:`PermanentSendError` for those that are not (a number the
provider rejects, 4xx).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# The longest message body the providers accept (Twilio refuses more than 1,600 characters,
# error 21617). Reminder texts are short, and their longest possible text is tested against it.
MAX_BODY_LENGTH = 1600


class TransientSendError(Exception):
    """Delivery failed in a way that may work later: retry with backoff."""


class PermanentSendError(Exception):
    """Delivery cannot work as things stand: do not retry; the care team sees why."""


def mask_phone(number: str) -> str:
    """Enough of a number to recognise it in a log, not to use it: ``***1234``."""
    digits = "".join(c for c in number if c.isdigit())
    return f"***{digits[-4:]}" if len(digits) >= 4 else "***"


class BaseSMSBackend:
    def send(self, *, to: str, body: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    """Logs that a message would be sent: never the text, never the whole number."""

    def send(self, *, to: str, body: str) -> str:
        message_id = f"console-{uuid.uuid4().hex[:12]}"
        logger.info(
            "SMS %s to %s (%d characters, not sent: console backend)", message_id, mask_phone(to), len(body)
        )
        return message_id


class TwilioSMSBackend(BaseSMSBackend):
    """Twilio's Messages API over plain HTTPS (urllib: no SDK needed)."""

    def __init__(self) -> None:
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.auth_token = settings.TWILIO_AUTH_TOKEN
        self.from_number = settings.TWILIO_FROM_NUMBER
        self.api_base = settings.TWILIO_API_BASE.rstrip("/")
        self.timeout = settings.TWILIO_TIMEOUT
        if not (self.account_sid and self.auth_token and self.from_number):
            raise ImproperlyConfigured(
                "SMS_BACKEND is the Twilio backend but TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER are not all set."
            )

    def build_request(self, *, to: str, body: str) -> urllib.request.Request:
        url = f"{self.api_base}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"
        data = urllib.parse.urlencode({"To": to, "From": self.from_number, "Body": body}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return urllib.request.Request(  # noqa: S310 - the scheme is the configured https API base
            url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )

    def send(self, *, to: str, body: str) -> str:
        request = self.build_request(to=to, body=body)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _twilio_error(exc)
            if exc.code == 429 or exc.code >= 500:
                raise TransientSendError(f"SMS provider busy (HTTP {exc.code}){detail}") from exc
            raise PermanentSendError(f"SMS provider refused the message (HTTP {exc.code}){detail}") from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise TransientSendError(f"SMS provider unreachable: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise TransientSendError("SMS provider sent an unreadable answer") from exc
        sid = str(payload.get("sid", ""))
        logger.info("SMS %s sent to %s", sid, mask_phone(to))
        return sid


def _twilio_error(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return ""
    code = payload.get("code")  # the message text may quote the phone number: not kept
    return f", error {code}"[:40] if code else ""


def get_sms_backend() -> BaseSMSBackend:
    return import_string(settings.SMS_BACKEND)()
