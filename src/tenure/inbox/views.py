"""Public endpoints of the channels: the contact form, the Twilio SMS webhook and the generic webhook."""

from __future__ import annotations

import logging
import uuid

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt, csrf_protect, ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST

from tenure.core.outbox import twilio
from tenure.inbox import ratelimit
from tenure.inbox.conf import current
from tenure.inbox.forms import ContactForm
from tenure.inbox.models import WebhookSource
from tenure.inbox.sms import receive_sms
from tenure.inbox.webform import log_spam, receive_form
from tenure.inbox.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    parse_event,
    receive_event,
    verify,
)

logger = logging.getLogger(__name__)
FORM_SALT = "tenure.inbox.form"
FORM_MAX_AGE = 24 * 3600
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def client_ip(request: HttpRequest) -> str:
    # Only the socket's address: a header like X-Forwarded-For is the client's to invent.
    return str(request.META.get("REMOTE_ADDR", "") or "unknown")


def _form_token() -> str:
    return signing.dumps(str(uuid.uuid4()), salt=FORM_SALT)


def _submission_id(token: str) -> str | None:
    try:
        return str(signing.loads(token, salt=FORM_SALT, max_age=FORM_MAX_AGE))
    except signing.BadSignature:
        return None


@xframe_options_exempt  # the form is meant to be embedded in the business's own site
@ensure_csrf_cookie
@csrf_protect
@require_http_methods(["GET", "POST"])
def contact_form(request: HttpRequest) -> HttpResponse:
    embedded = request.GET.get("embed") == "1"
    if request.method == "GET":
        context = {"form": ContactForm(), "token": _form_token(), "embedded": embedded}
        return render(request, "inbox/contact_form.html", context)
    form = ContactForm(request.POST)
    count, seconds = current().form_rate
    if not ratelimit.hit(f"form:{client_ip(request)}", limit=count, window_seconds=seconds):
        form.is_valid()
        form.add_error(
            None, "Too many messages from your address just now. Please try again in a few minutes."
        )
        context = {"form": form, "token": request.POST.get("token", ""), "embedded": embedded}
        return render(request, "inbox/contact_form.html", context, status=429)
    if form.is_bot:
        if form.is_valid():
            log_spam(form.cleaned_data, ip=client_ip(request))
        # A bot learns nothing from the answer.
        return render(request, "inbox/contact_thanks.html", {"embedded": embedded})
    submission = _submission_id(request.POST.get("token", ""))
    if submission is None:
        form.is_valid()
        form.add_error(None, "This form was open too long. Please check your message and send it again.")
        return render(
            request,
            "inbox/contact_form.html",
            {"form": form, "token": _form_token(), "embedded": embedded},
            status=400,
        )
    if not form.is_valid():
        context = {"form": form, "token": request.POST["token"], "embedded": embedded}
        return render(request, "inbox/contact_form.html", context, status=400)
    log = receive_form(
        form.cleaned_data,
        submission_id=submission,
        ip=client_ip(request),
        page=request.META.get("HTTP_REFERER", ""),
    )
    return render(request, "inbox/contact_thanks.html", {"embedded": embedded, "request_id": log.request_id})


@xframe_options_exempt
def embed_script(request: HttpRequest) -> HttpResponse:
    """`<script src=".../inbox/form/embed.js" async></script>` puts the form where the tag is."""
    url = request.build_absolute_uri(reverse("inbox:form")) + "?embed=1"
    response = render(request, "inbox/embed.js", {"url": url}, content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=300"
    return response


def _signed_url(request: HttpRequest) -> str:
    base = current().public_url
    return base + request.get_full_path() if base else request.build_absolute_uri()


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest) -> HttpResponse:
    params = [(key, value) for key in request.POST for value in request.POST.getlist(key)]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not twilio.is_valid(_signed_url(request), params, current().sms_auth_token, signature):
        logger.warning("Rejected an SMS webhook with a bad signature from %s", client_ip(request))
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    try:
        receive_sms(request.POST.dict())
    except ValidationError as error:
        return JsonResponse({"errors": _errors(error)}, status=400)
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")


def _errors(error: ValidationError) -> list[dict[str, str]]:
    if hasattr(error, "error_dict"):
        return [
            {"field": field, "message": m} for field, messages in error.message_dict.items() for m in messages
        ]
    return [{"field": "", "message": m} for m in error.messages]


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, source: str) -> HttpResponse:
    hook = get_object_or_404(WebhookSource, slug=source, active=True)
    body = request.body
    try:
        verify(
            hook,
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            body=body,
        )
    except SignatureError as error:
        field = SIGNATURE_HEADER if error.status == 403 else TIMESTAMP_HEADER
        return JsonResponse({"errors": [{"field": field, "message": str(error)}]}, status=error.status)
    try:
        log, created = receive_event(hook, parse_event(body))
    except ValidationError as error:
        return JsonResponse({"errors": _errors(error)}, status=400)
    return JsonResponse(
        {"id": log.external_id, "status": "accepted" if created else "duplicate", "request": log.request_id},
        status=201 if created else 200,
    )
