"""Public endpoints of the outbox: the unsubscribe page (RFC 8058 one-click too) and Twilio's status callback."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tenure.core.outbox import twilio
from tenure.core.outbox.settings import current
from tenure.core.outbox.status import UnknownMessage, record_sms_status
from tenure.core.outbox.unsubscribe import BadToken, purpose_label, read_token, record_unsubscribe

# The page lives here rather than in a template directory: it is the outbox's only page.
PAGE = engines["django"].from_string(
    """{% extends "base.html" %}
{% block title %}Unsubscribe{% endblock %}
{% block content %}
<section class="narrow">
{% if error %}
  <h1>Link not valid</h1>
  <p role="alert">{{ error }}</p>
  <p>To change what we send you, reply to any of our messages or contact us.</p>
{% elif done %}
  <h1>You are unsubscribed</h1>
  <p>You will no longer receive <strong>{{ label }}</strong> from us.{% if not changed %} (You already had
  unsubscribed.){% endif %} Messages about orders and requests you make still reach you.</p>
{% else %}
  <h1>Unsubscribe</h1>
  <p>Stop receiving <strong>{{ label }}</strong>?</p>
  <form method="post">{% csrf_token %}<button type="submit">Unsubscribe</button></form>
{% endif %}
</section>
{% endblock %}"""
)


@csrf_exempt  # the signed token is the credential; RFC 8058 one-click POSTs come from mail clients
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners follow GETs, so a GET changes nothing); POST records the opt-out."""
    config = current()
    try:
        target = read_token(token, max_age_days=config.unsubscribe_max_age_days)
    except BadToken as error:
        return HttpResponse(PAGE.render({"error": str(error)}, request), status=400)
    context = {"label": purpose_label(target.purpose).lower()}
    if request.method == "GET":
        return HttpResponse(PAGE.render(context, request))
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    changed = record_unsubscribe(
        customer=target.customer, purpose=target.purpose, via="one-click" if one_click else "link"
    )
    return HttpResponse(PAGE.render({**context, "done": True, "changed": changed}, request))


def _error(status: int, field: str, message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"field": field, "message": message}]}, status=status)


@csrf_exempt  # authenticated by Twilio's request signature instead
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    config = current()
    # Twilio signs the URL it was given; behind a proxy that is the public one, not what Django sees.
    url = (
        f"{config.public_url}{request.get_full_path()}" if config.public_url else request.build_absolute_uri()
    )
    params = [(name, value) for name, values in request.POST.lists() for value in values]
    if not twilio.is_valid(url, params, config.sms_auth_token, request.headers.get("X-Twilio-Signature", "")):
        return _error(403, "X-Twilio-Signature", "missing or wrong signature")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    if not sid:
        return _error(400, "MessageSid", "required")
    if not status:
        return _error(400, "MessageStatus", "required")
    try:
        record_sms_status(sid=sid, status=status, error_code=request.POST.get("ErrorCode", ""))
    except UnknownMessage:
        return _error(404, "MessageSid", f"no message was sent with sid {sid}")
    return HttpResponse(status=204)
