"""Normalising contact addresses so the same person is recognised whichever way they write it."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from tenure.customers.models import IdentityChannel

_HANDLE = re.compile(r"^[a-z0-9_.\-]{1,100}$")
_NETWORK = re.compile(r"^[a-z][a-z0-9_\-]{0,30}$")
_VISITOR = re.compile(r"^[A-Za-z0-9_\-]{8,128}$")


def normalize_email(raw: str) -> str:
    value = raw.strip().lower()
    if not value:
        raise ValidationError("an e-mail address is required", code="email")
    if len(value) > 254:
        raise ValidationError("an e-mail address has at most 254 characters", code="email")
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(f"{raw!r} is not a valid e-mail address", code="email") from None
    return value


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 form; numbers without a country code are read in the business's region."""
    value = raw.strip()
    if not value or len(value) > 40:
        raise ValidationError(f"{raw!r} is not a valid phone number", code="phone")
    try:
        number = phonenumbers.parse(value, region or settings.TENURE_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{raw!r} is not a valid phone number", code="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid phone number", code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_social(raw: str) -> str:
    """`network:handle`, lower case, without the leading @ (e.g. `facebook:jane.doe`)."""
    network, sep, handle = raw.strip().lower().partition(":")
    handle = handle.strip().lstrip("@")
    if not sep or not _NETWORK.match(network.strip()) or not _HANDLE.match(handle):
        raise ValidationError(f"{raw!r} is not a social handle; write it as network:handle", code="social")
    return f"{network.strip()}:{handle}"


def normalize_chat_visitor(raw: str) -> str:
    value = raw.strip()
    if not _VISITOR.match(value):
        raise ValidationError(f"{raw!r} is not a chat visitor id", code="chat")
    return value


NORMALIZERS = {
    IdentityChannel.EMAIL: normalize_email,
    IdentityChannel.PHONE: normalize_phone,
    IdentityChannel.SOCIAL: normalize_social,
    IdentityChannel.CHAT: normalize_chat_visitor,
}


def normalize_identity(channel: str, raw: str) -> str:
    try:
        normalizer = NORMALIZERS[IdentityChannel(channel)]
    except ValueError:
        choices = ", ".join(IdentityChannel.values)
        raise ValidationError(f"{channel!r} is not an identity channel ({choices})", code="channel") from None
    return normalizer(raw)
