"""The error model: every code of the spec's table maps, unknown codes and odd bodies still work."""

from __future__ import annotations

import json
import pickle

import pytest

from airflow_provider_pandora import exceptions as exc

SPEC_TABLE = {  # status and code exactly as the spec's error table lists them
    "E18003": 411,
    "E18004": 400,
    "E18005": 413,
    "E18006": 400,
    "E18007": 400,
    "E18008": 400,
    "E18101": 409,
    "E18102": 404,
    "E18103": 400,
    "E18104": 400,
    "E18105": 400,
    "E18106": 400,
    "E18107": 400,
    "E18108": 400,
    "E18109": 400,
    "E18110": 400,
    "E18111": 404,
    "E18112": 400,
    "E18113": 409,
    "E18117": 400,
    "E18120": 404,
    "E18122": 404,
    "E18124": 202,
    "E18125": 400,
    "E18201": 409,
    "E18202": 404,
    "E18203": 415,
    "E18204": 409,
    "E18205": 409,
    "E18206": 400,
    "E18207": 400,
    "E18208": 400,
    "E18209": 400,
    "E18211": 400,
    "E18212": 400,
    "E18213": 400,
    "E18214": 400,
    "E18215": 409,
    "E18216": 404,
    "E18217": 409,
    "E18218": 409,
    "E18219": 400,
    "E18220": 400,
    "E18221": 400,
    "E18222": 400,
    "E18223": 400,
    "E18301": 409,
    "E18302": 404,
    "E18303": 400,
    "E18304": 400,
    "E18305": 400,
}


@pytest.mark.parametrize(("code", "status"), sorted(SPEC_TABLE.items()))
def test_every_spec_code_is_in_the_table_with_its_status(code, status):
    assert exc.ERROR_CODES[code][0] == status
    err = exc.error_from_response(status, json.dumps({"error": f"{code}: something"}), "req-1")
    assert isinstance(err, exc.PandoraApiError)
    assert (err.code, err.status_code, err.message, err.reqid) == (code, status, "something", "req-1")
    assert isinstance(err, exc.ERROR_CODES[code][2])


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("E18102", exc.PandoraNotFoundError),
        ("E18120", exc.PandoraNotFoundError),
        ("E18101", exc.PandoraAlreadyExistsError),
        ("E18218", exc.PandoraAlreadyExistsError),
        ("E18005", exc.PandoraTooLargeError),
        ("E18110", exc.PandoraInvalidRequestError),
        ("E18215", exc.PandoraConflictError),
        ("E9000", exc.PandoraServerError),
    ],
)
def test_users_catch_by_class(code, cls):
    assert isinstance(exc.error_from_response(exc.ERROR_CODES[code][0], json.dumps({"error": f"{code}: x"})), cls)


def test_unknown_code_and_bare_statuses():
    err = exc.error_from_response(400, '{"error": "E99999: brand new"}')
    assert type(err) is exc.PandoraInvalidRequestError
    assert err.code == "E99999"
    assert isinstance(exc.error_from_response(503, "upstream down"), exc.PandoraServerError)
    assert isinstance(exc.error_from_response(429, ""), exc.PandoraServerError)
    assert isinstance(exc.error_from_response(404, "<html>nope</html>"), exc.PandoraNotFoundError)
    teapot = exc.error_from_response(418, "")
    assert teapot.message == "HTTP 418 with an empty body"


def test_401_carries_the_aksk_and_clock_hint():
    err = exc.error_from_response(401, '{"error": "bad token"}', "r1")
    assert isinstance(err, exc.PandoraAuthError)
    assert "access key" in str(err)
    assert "clock" in str(err)
    assert "r1" in str(err)


def test_errors_survive_pickling():
    err = exc.error_from_response(404, '{"error": "E18102: no such repo"}', "abc")
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is exc.PandoraNotFoundError
    assert (clone.code, clone.reqid, str(clone)) == ("E18102", "abc", str(err))
    v = pickle.loads(pickle.dumps(exc.PandoraValidationError("repo", "bad", code="E18103")))
    assert (v.parameter, v.code) == ("repo", "E18103")


def test_transfer_and_point_errors_live_here_and_nowhere_else():
    from airflow_provider_pandora import wire
    from airflow_provider_pandora.transfers import _engine

    assert wire.PointError is exc.PointError  # wire raises it, so it imports it; exceptions.py is its home
    assert not {"BadLine", "BadLineError", "TransferError"} & set(_engine.__all__)
