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


def _signed_token(description: str, secret: str = "sk") -> auth.ParsedAuthorization:
    """A token whose description is exactly ``description``, correctly signed: only its fields are wrong."""
    encoded = auth.b64url(description.encode("utf-8"))
    return auth.ParsedAuthorization("ak", auth.hmac_sha1_b64(secret, encoded), encoded)


BAD_EXPIRES = ["1e400", "-1e400", "[1]", '"4102444800"', '"soon"', '{"at": 1}', "true", "-5", "0", "null"]


@pytest.mark.parametrize("expires", BAD_EXPIRES)
def test_a_signed_token_with_a_bad_expires_is_a_value_error_never_a_crash(expires: str) -> None:
    """``1e400`` used to raise OverflowError and ``[1]`` TypeError, which the emulator answered with a 500."""
    description = f'{{"resource":"/v2/repos/r/data","expires":{expires},"method":"POST"}}'
    with pytest.raises(ValueError, match=r"token expire[sd]"):
        auth.verify_token(_signed_token(description), "sk", method="POST", path="/v2/repos/r/data", now=DATE_TS)


@pytest.mark.parametrize("description", ["[" * 100_000 + "]" * 100_000, "[]", '"text"', "{", ""])
def test_a_signed_token_whose_description_is_not_an_object_is_a_value_error(description: str) -> None:
    with pytest.raises(ValueError, match="token description"):
        auth.verify_token(_signed_token(description), "sk", method="POST", path="/v2/repos/r/data", now=DATE_TS)


def test_a_float_expiry_in_the_future_is_accepted() -> None:
    description = '{"resource":"/v2/repos/r/data","expires":4102444800.5,"method":"POST"}'
    auth.verify_token(_signed_token(description), "sk", method="POST", path="/v2/repos/r/data", now=DATE_TS)
