"""SMS in Twilio's REST wire format over stdlib urllib; the base URL is configurable."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from tenure.core.outbox.base import PermanentSendError, SendError
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox_models import OutboundMessage

# Twilio error codes that say the number itself cannot receive SMS.
BAD_NUMBER_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21614})


class SmsAdapter:
    def __init__(self, config: OutboxSettings) -> None:
        self.config = config

    def _request(self, message: OutboundMessage) -> urllib.request.Request:
        config = self.config
        sid = urllib.parse.quote(config.sms_account_sid, safe="")
        url = f"{config.sms_base_url}/2010-04-01/Accounts/{sid}/Messages.json"
        fields = {"To": message.recipient, "From": config.sms_from, "Body": message.body}
        if config.sms_status_callback_url:
            # Twilio POSTs delivered/undelivered/failed here (see status.py).
            fields["StatusCallback"] = config.sms_status_callback_url
        form = urllib.parse.urlencode(fields)
        credentials = base64.b64encode(f"{config.sms_account_sid}:{config.sms_auth_token}".encode()).decode()
        return urllib.request.Request(  # noqa: S310 - scheme checked in send()
            url,
            data=form.encode(),
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                # The provider drops a second request with the same token: a re-send after a crash is not a
                # second SMS.
                "I-Twilio-Idempotency-Token": message.idempotency_key,
            },
        )

    def send(self, message: OutboundMessage, following: OutboundMessage | None = None) -> str:
        if not self.config.sms_account_sid or not self.config.sms_from:
            raise PermanentSendError("SMS is not configured: set TENURE_SMS_ACCOUNT_SID and TENURE_SMS_FROM")
        if not self.config.sms_base_url.startswith(("https://", "http://")):
            raise PermanentSendError(
                f"TENURE_SMS_BASE_URL must be an http(s) URL, not {self.config.sms_base_url!r}"
            )
        try:
            with urllib.request.urlopen(self._request(message), timeout=self.config.sms_timeout) as response:  # noqa: S310 - URL from settings
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _http_error(error, message.recipient) from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise SendError(f"SMS provider unreachable: {error}") from error
        return str(payload.get("sid", ""))

    def close(self) -> None:
        return None


def _http_error(error: urllib.error.HTTPError, recipient: str) -> SendError:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    text = f"SMS provider HTTP {error.code}" + (f", error {code}: {body.get('message', '')}" if code else "")
    if code in BAD_NUMBER_CODES:
        return PermanentSendError(f"{text} ({recipient})", bad_address=True)
    if error.code == 429 or error.code >= 500:
        return SendError(text)
    return PermanentSendError(text)
