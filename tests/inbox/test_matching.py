"""Sender matching, request signatures and the database rate limit."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from tenure.core.outbox import twilio
from tenure.customers.models import Customer, Identity
from tenure.customers.services import create_customer, merge_customers
from tenure.inbox import ratelimit
from tenure.inbox.senders import match_sender
from tenure.inbox.signatures import webhook_signature, webhook_valid

# Twilio's documented example (its request-validation docs and helper-library tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def test_twilio_documented_vector() -> None:
    assert twilio.signature(TWILIO_URL, TWILIO_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio.is_valid(TWILIO_URL, list(reversed(TWILIO_PARAMS)), "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not twilio.is_valid(TWILIO_URL + "&x=1", TWILIO_PARAMS, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not twilio.is_valid(TWILIO_URL, TWILIO_PARAMS, "", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not twilio.is_valid(TWILIO_URL, TWILIO_PARAMS, "12345", "")


def test_webhook_signature_covers_timestamp_and_body() -> None:
    signature = webhook_signature("s3cret", "1700000000", b'{"id":"1"}')
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhook_valid("s3cret", "1700000000", b'{"id":"1"}', signature)
    assert not webhook_valid("s3cret", "1700000001", b'{"id":"1"}', signature)
    assert not webhook_valid("s3cret", "1700000000", b'{"id":"2"}', signature)
    assert not webhook_valid("other", "1700000000", b'{"id":"1"}', signature)


@pytest.mark.django_db
def test_known_sender_by_any_spelling() -> None:
    ada = create_customer(
        name="Ada", identities=[("email", "ada@customer.example"), ("phone", "+12025550143")]
    )
    assert match_sender(channel="email", address="  ADA@Customer.Example ").customer == ada
    found = match_sender(channel="phone", address="(202) 555-0143")
    assert (found.customer, found.address, found.created) == (ada, "+12025550143", False)


@pytest.mark.django_db
def test_unknown_sender_becomes_a_prospect_with_that_identity() -> None:
    sender = match_sender(channel="email", address="New.Person@Example.org", name="New  Person")
    assert sender.created
    assert sender.customer.name == "New Person"
    assert sender.customer.lifecycle == "prospect"
    assert list(sender.customer.identities.values_list("channel", "value")) == [
        ("email", "new.person@example.org")
    ]
    assert sender.customer.events.filter(kind="customer.created").exists()
    again = match_sender(channel="email", address="new.person@example.org")
    assert again.customer == sender.customer and not again.created


@pytest.mark.django_db
def test_merged_customer_address_reaches_the_survivor() -> None:
    keep = create_customer(name="Keep")
    gone = create_customer(name="Gone", identities=[("social", "facebook:gone.person")])
    merge_customers(keep=keep, merge=gone)
    assert match_sender(channel="social", address="facebook:@Gone.Person").customer == keep


@pytest.mark.django_db
def test_bad_address_is_a_field_error_and_creates_nothing() -> None:
    before = Customer.objects.count()
    with pytest.raises(ValidationError) as raised:
        match_sender(channel="email", address="not an address")
    assert "sender" in raised.value.message_dict
    assert Customer.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_two_writers_creating_the_same_sender_get_one_customer() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL")
    barrier = threading.Barrier(4)
    found: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            found.append(match_sender(channel="email", address="race@example.org").customer.pk)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(found)) == 1
    assert Identity.objects.filter(value="race@example.org").count() == 1


@pytest.mark.django_db
def test_rate_limit_counts_per_key_and_window() -> None:
    now = dt.datetime(2026, 3, 2, 9, 0, 5, tzinfo=dt.UTC)
    assert [ratelimit.hit("ip:1", limit=3, window_seconds=60, now=now) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert ratelimit.hit("ip:2", limit=3, window_seconds=60, now=now)
    assert ratelimit.hit("ip:1", limit=3, window_seconds=60, now=now + dt.timedelta(seconds=60))


@pytest.mark.django_db(transaction=True)
def test_rate_limit_holds_across_connections() -> None:
    """Eight concurrent connections (as separate web processes would be) share one count."""
    now = dt.datetime(2026, 3, 2, 9, 0, 5, tzinfo=dt.UTC)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def hit() -> None:
        try:
            barrier.wait()
            results.append(ratelimit.hit("ip:shared", limit=5, window_seconds=600, now=now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 3 + [True] * 5
