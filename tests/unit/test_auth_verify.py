"""``auth.verify_signature``: the server side of AK/SK signing, a pure function the emulator calls."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_pandora import auth

DATE = "Thu, 01 Jun 2017 08:00:00 GMT"
DATE_TS = 1496304000.0
#: The Go SDK's vector for ``GET /v2/repos`` signed with secret ``sk`` (the same one ``test_auth.py`` checks).
SIGNATURE = "V99-jl7J4r0y58krNFPkXgVXz_Y="


def verify(signature: str = SIGNATURE, secret: str = "sk", **kwargs: Any) -> None:
    args: dict[str, Any] = {"method": "GET", "path": "/v2/repos", "date": DATE, "now": DATE_TS, **kwargs}
    auth.verify_signature(signature, secret, **args)


def test_the_sdk_vector_verifies() -> None:
    verify()


def test_a_signature_made_by_the_client_verifies_on_an_encoded_path() -> None:
    """Clients differ in whether they sign the path as sent or percent-decoded; both are accepted."""
    signed = auth.authorization("ak", "sk", "GET", "/v2/repos/a b", date=DATE).partition(":")[2]
    verify(signed, path="/v2/repos/a%20b")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"secret": "other"}, "the signature does not match"),
        ({"path": "/v2/groups"}, "the signature does not match"),
        ({"date": None}, "the Date header is missing"),
        ({"date": "yesterday"}, "unreadable Date header"),
        ({"now": DATE_TS + 15 * 60 + 1}, "more than 15 minutes"),
        ({"now": DATE_TS - 15 * 60 - 1}, "more than 15 minutes"),
    ],
)
def test_a_mismatch_says_why(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        verify(**kwargs)


def test_the_skew_limit_itself_is_accepted() -> None:
    verify(now=DATE_TS + auth.MAX_CLOCK_SKEW_SECONDS)
