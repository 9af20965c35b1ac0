"""The one failure policy: what a later attempt can fix, and what a failed push may have stored anyway.

Every waiter and sender (hook retries, sensors, triggers, job operators, transfer delivery) asks these two
functions, so this table is the whole contract.
"""

from __future__ import annotations

import pickle
import ssl

import httpx
import pytest
import requests
import tenacity

from airflow_provider_pandora.exceptions import (
    PandoraApiError,
    PandoraAuthError,
    PandoraCertificateError,
    PandoraInvalidRequestError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks._transport import (
    certificate_error,
    is_certificate_error,
    is_transient,
    maybe_committed,
    retrying,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook


def _ssl_error() -> requests.exceptions.SSLError:
    """A certificate refusal as requests raises it: the ssl error wrapped a few levels deep."""
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    try:
        try:
            raise inner
        except ssl.SSLError as err:
            raise requests.exceptions.SSLError(err) from err
    except requests.exceptions.SSLError as outer:
        return outer


def _httpx_ssl_error() -> httpx.ConnectError:
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as err:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from err
    except httpx.ConnectError as outer:
        return outer


CASES: list[tuple[str, BaseException, bool, bool]] = [
    # name, error, transient, maybe committed
    ("503", PandoraServerError("busy", status_code=503), True, True),
    ("500", PandoraServerError("oops", status_code=500), True, True),
    ("429", PandoraApiError("slow down", status_code=429), True, False),
    ("501", PandoraServerError("no such endpoint", status_code=501, code="E9001"), False, False),
    ("505", PandoraServerError("version", status_code=505), False, False),
    ("400", PandoraInvalidRequestError("bad", status_code=400), False, False),
    ("401", PandoraAuthError("who", status_code=401), False, False),
    ("404", PandoraNotFoundError("gone", status_code=404), False, False),
    ("local validation", PandoraValidationError("repo", "bad name"), False, False),
    ("requests connection refused", requests.ConnectionError("refused"), True, True),
    ("requests read timeout", requests.ReadTimeout("slow"), True, True),
    ("requests connect timeout", requests.ConnectTimeout("no route"), True, False),
    ("requests certificate", _ssl_error(), False, False),
    ("httpx connect error", httpx.ConnectError("refused"), True, False),
    ("httpx read timeout", httpx.ReadTimeout("slow"), True, True),
    ("httpx dropped", httpx.RemoteProtocolError("peer closed"), True, True),
    ("httpx certificate", _httpx_ssl_error(), False, False),
    ("our certificate error", PandoraCertificateError("https://x", "self-signed"), False, False),
    ("a bug", KeyError("x"), False, False),
]


@pytest.mark.parametrize(("name", "error", "transient", "committed"), CASES, ids=[c[0] for c in CASES])
def test_policy_table(name: str, error: BaseException, transient: bool, committed: bool) -> None:
    assert is_transient(error) is transient
    assert maybe_committed(error) is committed
    assert PandoraHook.is_retryable(error) is transient  # the old name is the same rule


def test_certificate_refusals_become_one_error_with_the_hint() -> None:
    for raw in (_ssl_error(), _httpx_ssl_error()):
        assert is_certificate_error(raw)
        err = certificate_error(raw, "https://pandora.example")
        assert isinstance(err, PandoraCertificateError)
        assert "https://pandora.example" in str(err)
        assert "ca_bundle" in str(err)
        clone = pickle.loads(pickle.dumps(err))  # it crosses process boundaries (Celery, triggerer)
        assert str(clone) == str(err)
    assert certificate_error(requests.ConnectionError("refused"), "https://x") is None


def test_retrying_stops_at_a_permanent_failure_and_retries_a_transient_one() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise PandoraServerError("busy", status_code=503)
        return "ok"

    assert retrying(5, 0.001)(flaky) == "ok"
    assert len(calls) == 3

    calls.clear()

    def refused() -> None:
        calls.append(1)
        raise PandoraServerError("no such endpoint", status_code=501)

    with pytest.raises(PandoraServerError):
        retrying(5, 0.001)(refused)
    assert len(calls) == 1


def test_retrying_gives_up_after_its_attempts_and_reports_each_retry() -> None:
    seen: list[int] = []

    def note(state: tenacity.RetryCallState) -> None:
        seen.append(state.attempt_number)

    def down() -> None:
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError):
        retrying(3, 0.001, before_sleep=note)(down)
    assert seen == [1, 2]
