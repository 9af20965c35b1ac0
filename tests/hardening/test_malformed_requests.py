"""Malformed requests: a generated corpus of bad bodies, headers, paths, methods and auth against the emulator.

Every answer must be an error in the service's contract (JSON ``{"error": "Exxxxx: ..."}``, an ``X-Reqid``),
with the right status and E-code, and never a 500 or a hang (each socket has a timeout). Then the same bad
calls go through :class:`PandoraHook` where a user could make them, and must raise the exception class the
code table names, carrying the server's message, after exactly one request (no retry can fix a 4xx).

Expected codes come from the spec and docs/sdk-facts.md §4: E18003/E18004 (missing/invalid Content-Length),
E18005 (over 2 MiB, 413), E18006 (empty body), E18007 (malformed body, content type, encoding), E18008 (field
over 100 KB), E18110/E18111 (bad value / unknown key), E18125 (unreadable gzip), the name codes (E18103 repo,
E18221 group, E18604 job, E18117 plugin), 401 ``bad token`` for any authentication problem, and E9001 (501) for a method
or path the API does not have.
"""

from __future__ import annotations

import gzip
import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import (
    ERROR_CODES,
    PandoraApiError,
    PandoraAuthError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.schema import NAME_RE, PLUGIN_NAME_RE, parse_schema
from airflow_provider_pandora.wire import MAX_BATCH_BYTES, PointDecoder, PointError, split_lines
from tests.common import CONTAINER
from tests.hardening.conftest import Answer, conn_json, request_count, send_raw
from tests.hardening.strategies import json_values, strings

pytestmark = pytest.mark.integration

SCHEMA: list[dict[str, Any]] = [
    {"key": "s", "valtype": "string", "required": True},
    {"key": "l", "valtype": "long"},
    {"key": "f", "valtype": "float"},
    {"key": "b", "valtype": "boolean"},
    {"key": "d", "valtype": "date"},
    {"key": "a", "valtype": "array", "elemtype": "long"},
    {"key": "m", "valtype": "map", "schema": [{"key": "z", "valtype": "string"}]},
]
DECODER = PointDecoder(parse_schema(SCHEMA))
PUSH = "/v2/repos/src/data"
TEXT = {"Content-Type": "text/plain"}
JSON_CT = {"Content-Type": "application/json"}
#: Refusals that depend on what earlier calls did (a run still going), not only on the request.
STATEFUL_CODES = {"E18621", "E18622"}
#: Statuses http.server itself answers (request line, headers); the emulator words them as E18007 / E9001.
TRANSPORT_STATUSES = {400: "E18007", 414: "E18007", 431: "E18007", 501: "E9001"}

_corpus = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def assert_refused(answer: Answer, status: int, codes: set[str] | str) -> None:
    """The service's error contract, with the expected status and one of the expected codes."""
    allowed = {codes} if isinstance(codes, str) else codes
    assert answer.status != 500, answer.body
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers.get("Content-Type") == "application/json", answer.headers
    assert answer.headers.get("X-Reqid"), answer.headers
    assert answer.code in allowed, answer.error
    assert answer.message, answer.error
    table_status = ERROR_CODES[answer.code][0] if answer.code in ERROR_CODES else None
    assert status in (table_status, 401) or TRANSPORT_STATUSES.get(status) == answer.code, (status, answer.code)


def assert_bad_token(answer: Answer) -> None:
    """The service's one answer to every authentication failure: ``401 {"error": "bad token"}``, no E-code."""
    assert answer.status == 401, (answer.status, answer.body[:300])
    assert answer.headers.get("Content-Type") == "application/json", answer.headers
    assert answer.headers.get("X-Reqid"), answer.headers
    assert json.loads(answer.body) == {"error": "bad token"}
    assert answer.headers.get("X-Emulator-Reason"), answer.headers  # why, for humans (emulator only)


@pytest.fixture(scope="module")
def hook(emulator: PandoraEmulator) -> Iterator[PandoraHook]:
    """A hook on the module's emulator, with the resources the corpus aims at."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_PANDORA_CORPUS", conn_json(emulator, retry_limit=3))
        client = PandoraHook("pandora_corpus")
        client.create_group("g0", container=CONTAINER)
        client.create_repo("src", schema=SCHEMA)
        client.create_transform("src", "t0", "tdst", code="select s, l from src")
        client.create_export("src", "e0", export_type="logdb", spec={"destRepoName": "logs"})
        client.submit_job(
            "src", "j0", "jdst", code="select s from src", container=CONTAINER, scheduler={"type": "once"}
        )
        yield client
        client.close()


def shown(message: str) -> str:
    """The server's message as the hook keeps it: whole, or its first 2,000 characters (exceptions.py)."""
    return message if len(message) <= 2000 else message[:2000] + "..."


def hook_raises(hook: PandoraHook, emulator: PandoraEmulator, answer: Answer, **call: Any) -> None:
    """The hook turns the same refused call into the code's exception class, with the server's message, once."""
    before = request_count(emulator)
    with pytest.raises(PandoraApiError) as info:
        hook.request(**call)
    err = info.value
    expected = PandoraAuthError if answer.status == 401 else ERROR_CODES[str(answer.code)][2]
    assert type(err) is expected, (type(err), answer.error)
    assert err.status_code == answer.status
    assert err.code == answer.code
    assert err.message == shown(answer.message)
    assert err.reqid
    assert request_count(emulator) - before == 1, "a refused request was retried"


# =============================================================================================
# Bodies
# =============================================================================================
not_json = st.binary(max_size=300).filter(lambda raw: not _parses(raw))


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


JSON_ENDPOINTS = [
    ("POST", "/v2/groups/gx"),
    ("PUT", "/v2/groups/g0"),
    ("POST", "/v2/repos/rx"),
    ("PUT", "/v2/repos/src"),
    ("POST", "/v2/repos/src/transforms/tx/to/dx"),
    ("PUT", "/v2/repos/src/transforms/t0"),
    ("POST", "/v2/repos/src/exports/ex"),
    ("PUT", "/v2/repos/src/exports/e0"),
    ("POST", "/v2/repos/src/jobs/jx/to/djx"),
    ("POST", "/v2/repos/src/jobs/j0/actions/start"),
    ("POST", "/v2/schemas"),
]


@_corpus
@given(st.sampled_from(JSON_ENDPOINTS), st.one_of(not_json, st.just(b"\xff\xfe{}"), st.just(b'{"a": 1')))
def test_bodies_that_are_not_json_are_e18007(
    emulator: PandoraEmulator, hook: PandoraHook, endpoint: tuple[str, str], body: bytes
) -> None:
    method, path = endpoint
    if not body.strip():
        body = b"{nope"  # an empty body reads as {} (the SDKs send some calls without one)
    answer = send_raw(emulator, method, path, headers=JSON_CT, body=body)
    assert_refused(answer, 400, "E18007")
    hook_raises(hook, emulator, answer, method=method, path=path, data=body, headers=JSON_CT)


@_corpus
@given(
    st.sampled_from(JSON_ENDPOINTS), st.one_of(st.lists(json_values, max_size=3), strings, st.integers(), st.booleans())
)
def test_json_that_is_not_an_object_is_e18007(
    emulator: PandoraEmulator, hook: PandoraHook, endpoint: tuple[str, str], value: Any
) -> None:
    method, path = endpoint
    body = json.dumps(value).encode()
    answer = send_raw(emulator, method, path, headers=JSON_CT, body=body)
    assert_refused(answer, 400, "E18007")
    hook_raises(hook, emulator, answer, method=method, path=path, json_body=value)


#: Each endpoint's keys, so generated objects hit the validation of real fields with wrong types.
KEYS = ["region", "container", "schema", "code", "mode", "plugin", "interval", "type", "spec", "whence", "scheduler"]
KEYS += ["params", "group", "bucket", "keyPrefix", "fileType", "options", "allocateOnStart", "count", "name"]
wrong_objects = st.dictionaries(st.sampled_from(KEYS), json_values, min_size=1, max_size=4)


@_corpus
@given(st.sampled_from(JSON_ENDPOINTS), wrong_objects)
def test_objects_with_wrong_types_get_a_4xx_never_a_500(
    emulator: PandoraEmulator, hook: PandoraHook, endpoint: tuple[str, str], body: dict[str, Any]
) -> None:
    method, path = endpoint
    answer = send_raw(emulator, method, path, headers=JSON_CT, body=json.dumps(body).encode())
    if answer.status == 200:  # the generator made a valid call; nothing to refuse
        return
    assert 400 <= answer.status < 500, answer.body
    code = str(answer.code)
    assert code in ERROR_CODES, answer.error
    assert_refused(answer, ERROR_CODES[code][0], code)
    # "exists" (409) and "already running" answers depend on what earlier examples created or started
    if answer.status != 409 and code not in STATEFUL_CODES:
        hook_raises(hook, emulator, answer, method=method, path=path, json_body=body)


def _expected_push(body: bytes) -> str | None:
    """The code the shared decoder gives a body (None: accepted) - the emulator must agree with it."""
    if not body or not split_lines(body):
        return "E18006"
    for number, line in enumerate(split_lines(body), start=1):
        try:
            DECODER.decode(line, where=f"line {number}")
        except PointError as err:
            return err.code
    return None


_fields = st.sampled_from(["s", "l", "f", "b", "d", "a", "m", "zz", "", "s ", "S"])
_raw_values = st.one_of(
    strings, st.sampled_from(["1", "-1", "1.5", "true", "x", "[1]", '{"z":"a"}', "2024-05-01T08:00:00Z"])
)
push_lines = st.lists(st.tuples(_fields, _raw_values), max_size=5).map(
    lambda pairs: "\t".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
)
push_bodies = st.one_of(
    st.lists(push_lines, min_size=1, max_size=4).map(b"\n".join),
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"s=a", b"s=\xff", b"\t", b"=", b"s", b"\r\n", b"\n"]), max_size=5).map(b"".join),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(push_bodies)
def test_push_bodies_get_the_decoders_code(emulator: PandoraEmulator, hook: PandoraHook, body: bytes) -> None:
    """Junk points are refused with the same code the shared decoder gives them (E18006/7/8, E18110/1)."""
    expected = _expected_push(body)
    answer = send_raw(emulator, "POST", PUSH, headers=TEXT, body=body)
    if expected is None:
        assert answer.status == 200, answer.body
        return
    assert_refused(answer, ERROR_CODES[expected][0], expected)
    if body.strip():
        before = request_count(emulator)
        with pytest.raises(PandoraApiError) as info:
            hook.push_batch("src", body, content_type="text/plain")
        assert (type(info.value), info.value.code, info.value.message) == (
            ERROR_CODES[expected][2],
            expected,
            shown(answer.message),
        )
        assert request_count(emulator) - before == 1


# =============================================================================================
# Headers: Content-Length, Content-Type, Content-Encoding, sizes, extra and missing headers
# =============================================================================================
@_corpus
@given(st.one_of(st.text(string.ascii_letters + " +-.", min_size=1, max_size=8), st.integers(max_value=-1).map(str)))
def test_unreadable_content_length_is_e18004(emulator: PandoraEmulator, value: str) -> None:
    value = value.strip() or "x"
    answer = send_raw(emulator, "POST", PUSH, headers=TEXT, body=b"s=a\n", content_length=value)
    assert_refused(answer, 400, "E18004")


@_corpus
@given(st.integers(1, 5000))
def test_a_body_shorter_than_its_content_length_is_e18004_not_a_hang(emulator: PandoraEmulator, missing: int) -> None:
    body = b"s=a\n" * 10
    answer = send_raw(
        emulator, "POST", PUSH, headers=TEXT, body=body, content_length=str(len(body) + missing), half_close=True
    )
    assert_refused(answer, 400, "E18004")


def test_missing_content_length_and_chunked_bodies_are_411(emulator: PandoraEmulator) -> None:
    assert_refused(send_raw(emulator, "POST", PUSH, headers=TEXT, content_length=None), 411, "E18003")
    chunked = send_raw(
        emulator,
        "POST",
        PUSH,
        headers={**TEXT, "Transfer-Encoding": "chunked"},
        body=b"4\r\ns=a\n\r\n0\r\n\r\n",
        content_length=None,
    )
    assert_refused(chunked, 411, "E18003")


def test_an_announced_body_over_the_limits_is_413(emulator: PandoraEmulator) -> None:
    for length in (64 * 1024 * 1024 + 1, 10**12):
        answer = send_raw(emulator, "POST", PUSH, headers=TEXT, content_length=str(length))
        assert_refused(answer, 413, "E18005")
    # over the JSON limit (4 MiB) but under the discard limit: the server reads what comes, then answers
    json_call = send_raw(
        emulator, "POST", "/v2/repos/rx", headers=JSON_CT, content_length=str(5 * 1024 * 1024 + 1), half_close=True
    )
    assert_refused(json_call, 413, "E18005")


def test_oversize_bodies_and_fields(emulator: PandoraEmulator, hook: PandoraHook) -> None:
    big = b"".join(b"s=" + b"y" * 60_000 + b"\n" for _ in range(36))  # 2.1 MiB in fields under 100 KB
    assert len(big) > MAX_BATCH_BYTES
    answer = send_raw(emulator, "POST", PUSH, headers=TEXT, body=big)
    assert_refused(answer, 413, "E18005")
    hook_raises(hook, emulator, answer, method="POST", path=PUSH, data=big, headers=TEXT)
    with pytest.raises(PandoraValidationError, match="below"):  # push_batch refuses it before sending
        hook.push_batch("src", big)
    field = b"s=" + "é".encode() * 51_200 + b"\n"  # 100 KB of characters, 200 KB of bytes
    answer = send_raw(emulator, "POST", PUSH, headers=TEXT, body=field)
    assert_refused(answer, 400, "E18008")
    hook_raises(hook, emulator, answer, method="POST", path=PUSH, data=field, headers=TEXT)
    bomb = gzip.compress(b"s=" + b"z" * (3 * 1024 * 1024) + b"\n")
    answer = send_raw(emulator, "POST", PUSH, headers={**TEXT, "Content-Encoding": "gzip"}, body=bomb)
    assert_refused(answer, 413, "E18005")
    huge_json = json.dumps({"region": "nb", "pad": "x" * (4 * 1024 * 1024)}).encode()
    assert_refused(send_raw(emulator, "POST", "/v2/groups/gx", headers=JSON_CT, body=huge_json), 413, "E18005")


content_types = st.text(string.ascii_letters + "/-+.;= ", min_size=1, max_size=30).filter(
    # HTTP drops a header value's outer whitespace, so such a value could not be signed as sent
    lambda ct: ct == ct.strip() and ct.split(";", 1)[0].strip().lower() not in ("", "text/plain", "application/text")
)


@_corpus
@given(content_types)
def test_push_content_types_other_than_text_are_e18007(
    emulator: PandoraEmulator, hook: PandoraHook, content_type: str
) -> None:
    answer = send_raw(emulator, "POST", PUSH, headers={"Content-Type": content_type}, body=b"s=a\n")
    assert_refused(answer, 400, "E18007")
    hook_raises(hook, emulator, answer, method="POST", path=PUSH, data=b"s=a\n", headers={"Content-Type": content_type})


@_corpus
@given(
    st.text(string.ascii_lowercase + "-,", min_size=1, max_size=12).filter(
        lambda e: e.strip() not in ("gzip", "identity")
    )
)
def test_unknown_content_encodings_are_e18007(emulator: PandoraEmulator, hook: PandoraHook, encoding: str) -> None:
    headers = {**TEXT, "Content-Encoding": encoding}
    answer = send_raw(emulator, "POST", PUSH, headers=headers, body=b"s=a\n")
    assert_refused(answer, 400, "E18007")
    hook_raises(hook, emulator, answer, method="POST", path=PUSH, data=b"s=a\n", headers=headers)


@_corpus
@given(
    st.one_of(
        st.binary(min_size=1, max_size=100), st.integers(1, 12).map(lambda cut: gzip.compress(b"s=abc\n" * 20)[:-cut])
    )
)
def test_unreadable_gzip_is_e18125(emulator: PandoraEmulator, hook: PandoraHook, body: bytes) -> None:
    headers = {**TEXT, "Content-Encoding": "gzip"}
    answer = send_raw(emulator, "POST", PUSH, headers=headers, body=body)
    assert_refused(answer, 400, "E18125")
    hook_raises(hook, emulator, answer, method="POST", path=PUSH, data=body, headers=headers)


@_corpus
@given(
    st.dictionaries(
        st.from_regex(r"X-[A-Z][a-z]{1,8}", fullmatch=True), st.text(string.printable.strip(), max_size=20), max_size=4
    )
)
def test_extra_headers_change_nothing_but_unsigned_qiniu_headers_are_401(
    emulator: PandoraEmulator, extra: dict[str, str]
) -> None:
    harmless = {k: v for k, v in extra.items() if not k.lower().startswith("x-qiniu")}
    assert send_raw(emulator, "GET", "/v2/repos/src", headers=harmless).status == 200
    signed = send_raw(emulator, "GET", "/v2/repos/src", headers={"X-Qiniu-Tag": "signed"})
    assert signed.status == 200  # X-Qiniu-* headers are part of what is signed...
    forged = send_raw(emulator, "GET", "/v2/repos/src", extra_head=b"X-Qiniu-Tag: added-after-signing\r\n")
    assert_bad_token(forged)  # ...so one added after signing breaks the signature


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (b"Content-Length: 8\r\n", "E18004"),  # the same value twice is still two framings
        (b"content-length: 3\r\n", "E18004"),
        (b"CONTENT-LENGTH: 80\r\n", "E18004"),
        (b"Transfer-Encoding: chunked\r\ntransfer-encoding: identity\r\n", "E18007"),
        (b"authorization: Pandora someone:else\r\n", "E18007"),
    ],
)
def test_duplicate_framing_or_credential_headers_are_400(emulator: PandoraEmulator, extra: bytes, code: str) -> None:
    """Two Content-Length, Transfer-Encoding or Authorization fields, in any spelling, are how smuggling starts."""
    answer = send_raw(emulator, "POST", PUSH, headers=TEXT, body=b"s=dupes\n", extra_head=extra)
    assert_refused(answer, 400, code)
    assert "more than once" in answer.message
    assert answer.headers.get("Connection") == "close"
    assert send_raw(emulator, "GET", "/v2/repos").status == 200  # one of each is served as before


def test_header_lines_too_long_or_too_many_are_431_in_json(emulator: PandoraEmulator) -> None:
    long_line = send_raw(emulator, "GET", "/v2/repos", extra_head=b"X-Big: " + b"a" * 70_000 + b"\r\n")
    assert_refused(long_line, 431, "E18007")
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(150))
    assert_refused(send_raw(emulator, "GET", "/v2/repos", extra_head=many), 431, "E18007")
    assert_refused(send_raw(emulator, "GET", "/v2/" + "a" * 70_000), 414, "E18007")


# =============================================================================================
# Paths, names and methods
# =============================================================================================
bad_names = st.one_of(
    st.text(min_size=1, max_size=20),
    st.from_regex(r"[0-9][a-z0-9_]{0,5}", fullmatch=True),
    st.just("a" * 129),
    st.sampled_from(["a-b", "a.b", "a b", "é", "a/b", "..", "%", "a\x00"]),
).filter(lambda name: not NAME_RE.match(name))

NAME_ROUTES = [
    ("GET", "/v2/repos/{}", "E18103", lambda h, n: h.get_repo(n)),
    ("GET", "/v2/groups/{}", "E18221", lambda h, n: h.get_group(n)),
    ("DELETE", "/v2/repos/{}", "E18103", lambda h, n: h.delete_repo(n)),
    ("GET", "/v2/repos/src/jobs/{}/history", "E18604", lambda h, n: h.get_job_history("src", n)),
    ("GET", "/v2/repos/src/transforms/{}", "E18207", lambda h, n: h.get_transform("src", n)),
    ("DELETE", "/v2/repos/src/exports/{}", "E18305", lambda h, n: h.delete_export("src", n)),
]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(NAME_ROUTES), bad_names)
def test_bad_names_in_paths_get_the_name_code(
    emulator: PandoraEmulator, hook: PandoraHook, route: tuple[str, str, str, Any], name: str
) -> None:
    method, template, code, call = route
    path = template.format(quote(name, safe=""))
    answer = send_raw(emulator, method, path)
    assert_refused(answer, 400, code)
    if name not in (".", ".."):  # HTTP clients resolve dot segments, so the hook could not send these as is
        hook_raises(hook, emulator, answer, method=method, path=path)
    with pytest.raises(PandoraValidationError) as local:  # the hook's own method refuses it before sending
        call(hook, name)
    assert local.value.code == code


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.text(min_size=1, max_size=20).filter(lambda n: not PLUGIN_NAME_RE.match(n)))
def test_bad_plugin_names_are_e18117(emulator: PandoraEmulator, name: str) -> None:
    answer = send_raw(
        emulator,
        "POST",
        "/v2/plugins/" + quote(name, safe=""),
        headers={"Content-Type": "application/java-archive"},
        body=b"jar",
    )
    assert_refused(answer, 400, "E18117")


unknown_paths = st.lists(
    st.text(string.ascii_letters + string.digits + "_-.~", min_size=1, max_size=10).filter(
        lambda part: part not in (".", "..")  # HTTP clients resolve dot segments before sending
    ),
    min_size=1,
    max_size=6,
).map(lambda parts: "/" + "/".join(parts))


@_corpus
@given(st.one_of(unknown_paths, unknown_paths.map(lambda p: "/v2" + p)))
def test_unknown_paths_are_e9001_and_not_retried(emulator: PandoraEmulator, hook: PandoraHook, path: str) -> None:
    answer = send_raw(emulator, "GET", path)
    if answer.status != 501:  # a generated path that names a real resource route (e.g. /v2/repos/x)
        assert 400 <= answer.status < 500, answer.body
        return
    assert_refused(answer, 501, "E9001")
    hook_raises(hook, emulator, answer, method="GET", path=path)


methods = st.one_of(
    st.sampled_from(["PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", "Post"]),
    st.text(string.ascii_uppercase, min_size=1, max_size=10).filter(
        lambda m: m not in ("GET", "POST", "PUT", "DELETE", "HEAD")
    ),
)


@_corpus
@given(methods, st.sampled_from(["/v2/repos", "/v2/repos/src", "/v2/groups/g0", PUSH]))
def test_unknown_methods_are_e9001_in_json(
    emulator: PandoraEmulator, hook: PandoraHook, method: str, path: str
) -> None:
    answer = send_raw(emulator, method, path)
    assert_refused(answer, 501, "E9001")
    if method.isupper() and method != "CONNECT":
        before = request_count(emulator)
        with pytest.raises(PandoraServerError) as info:
            hook.request(method, path)
        assert info.value.status_code == 501
        assert info.value.code == "E9001"
        assert request_count(emulator) - before <= 1


def test_request_lines_that_are_not_http_get_a_json_error(emulator: PandoraEmulator) -> None:
    for method in (b"\xff\xfe", b"G\x00T"):
        assert_refused(send_raw(emulator, method, "/v2/repos", sign=False), 501, "E9001")
    answer = send_raw(emulator, "GET", b"/v2/repos/\xff\xfe", sign=False)
    assert_bad_token(answer)


# =============================================================================================
# Authentication headers
# =============================================================================================
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(string.printable.replace("\r", "").replace("\n", ""), max_size=80),
        st.builds(
            lambda a, b: f"Pandora {a}:{b}",
            st.text(string.ascii_letters, max_size=10),
            st.text(string.ascii_letters + "=_-", max_size=30),
        ),
        st.builds(
            lambda a, b, c: f"Pandora {a}:{b}:{c}",
            st.text(max_size=5),
            st.text(max_size=5),
            st.text(string.ascii_letters + "=", max_size=40),
        ),
    ),
    st.one_of(st.none(), st.just("garbage"), st.just("Thu, 01 Jun 2017 08:00:00 GMT")),
)
def test_bad_authorization_is_always_401(emulator: PandoraEmulator, authorization: str, date: str | None) -> None:
    headers = {"Authorization": authorization.strip()} if authorization.strip() else {}
    if date is not None:
        headers["Date"] = date
    answer = send_raw(emulator, "GET", "/v2/repos/src", headers=headers, sign=False)
    assert_bad_token(answer)
    if len(authorization.strip()) >= 12:  # a credential is never echoed back
        assert authorization.strip() not in answer.body.decode("utf-8", "replace")


def test_signed_requests_without_a_usable_date_are_401(emulator: PandoraEmulator) -> None:
    for date in ("", "yesterday", "Thu, 01 Jun 2017 08:00:00", "Thu, 01 Jun 2017 08:00:00 GMT"):
        answer = send_raw(emulator, "GET", "/v2/repos", headers={"Date": date} if date else {"Date": "x"})
        assert_bad_token(answer)


@pytest.mark.parametrize("expires", ["1e400", "-1e400", "[1]", '"soon"', '"4102444800"', '{"a": 1}', "true", "-5"])
def test_correctly_signed_tokens_with_bad_fields_are_401_never_500(emulator: PandoraEmulator, expires: str) -> None:
    """A token whose signature is right but whose ``expires`` is not a usable number (1e400 was a 500)."""
    description = f'{{"resource":"{PUSH}","expires":{expires},"contentType":"text/plain","method":"POST"}}'
    encoded = auth.b64url(description.encode())
    token = f"Pandora {emulator.access_key}:{auth.hmac_sha1_b64(emulator.secret_key, encoded)}:{encoded}"
    answer = send_raw(emulator, "POST", PUSH, headers={**TEXT, "Authorization": token}, body=b"s=x\n", sign=False)
    assert_bad_token(answer)
    assert "token" in answer.headers["X-Emulator-Reason"]
