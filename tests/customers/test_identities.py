from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenure.customers.identities import normalize_identity


@pytest.mark.parametrize(
    ("channel", "raw", "expected"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("phone", "(312) 555-2368", "+13125552368"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "+49 30 901820", "+4930901820"),
        ("social", "Facebook: @Jane.Doe", "facebook:jane.doe"),
        ("chat", "visitor_0123456789", "visitor_0123456789"),
    ],
)
def test_identities_are_normalised(channel: str, raw: str, expected: str) -> None:
    assert normalize_identity(channel, raw) == expected


@pytest.mark.parametrize(
    ("channel", "raw"),
    [
        ("email", ""),
        ("email", "not-an-email"),
        ("email", "a@b@c.com"),
        ("email", "x" * 300 + "@example.com"),
        ("phone", ""),
        ("phone", "12"),
        ("phone", "call me maybe"),
        ("phone", "+1 555 0100"),
        ("phone", "9" * 100),
        ("social", "janedoe"),
        ("social", "facebook:"),
        ("social", "facebook:<script>"),
        ("chat", "short"),
        ("chat", "../../etc/passwd"),
        ("fax", "123"),
    ],
)
def test_bad_identities_are_refused_with_a_message(channel: str, raw: str) -> None:
    with pytest.raises(ValidationError) as error:
        normalize_identity(channel, raw)
    assert error.value.messages[0]
