"""KodoHook over real HTTP against moto's S3 server on loopback (the ``kodo_conn`` fixture)."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.exceptions import KodoError, PandoraValidationError
from airflow_provider_pandora.hooks.kodo import KodoHook
from tests.moto_s3 import KodoBucket, MotoS3

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _count_list_calls(hook: KodoHook) -> list[int]:
    calls: list[int] = []
    hook.get_client().meta.events.register("after-call.s3.ListObjectsV2", lambda **_: calls.append(1))
    return calls


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- listing --------------------------------------------------------------------------------
def test_lists_every_key_under_the_prefix_across_pages(kodo_conn: KodoBucket):
    keys = [f"logs/2024/part-{i:03d}.jsonl" for i in range(23)]
    for i, key in enumerate(keys):
        kodo_conn.put(key, b"x" * i)
    kodo_conn.put("logs/2024/", b"")  # a console "folder" placeholder
    kodo_conn.put("other/ignored.txt", b"no")
    hook = KodoHook()
    calls = _count_list_calls(hook)

    assert hook.list_keys(kodo_conn.bucket, "logs/", page_size=5) == keys
    assert len(calls) == 5
    assert list(hook.iter_objects(kodo_conn.bucket, "logs/2024/part-00", page_size=4)) == [
        (keys[i], i) for i in range(10)
    ]


def test_default_listing_follows_past_the_first_thousand_keys(kodo_conn: KodoBucket):
    keys = [f"many/{i:05d}" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: kodo_conn.put(key, b"1"), keys))
    hook = KodoHook()
    calls = _count_list_calls(hook)
    assert hook.list_keys(kodo_conn.bucket, "many/") == keys
    assert len(calls) == 2


def test_suffix_filter_and_sorted_result(kodo_conn: KodoBucket):
    for key in ["d/b.jsonl", "d/a.jsonl.gz", "d/c.csv", "d/a.jsonl"]:
        kodo_conn.put(key, b"{}")
    hook = KodoHook()
    assert hook.list_keys(kodo_conn.bucket, "d/", suffix=".jsonl") == ["d/a.jsonl", "d/b.jsonl"]
    assert hook.list_keys(kodo_conn.bucket, "d/") == ["d/a.jsonl", "d/a.jsonl.gz", "d/b.jsonl", "d/c.csv"]
    assert hook.list_keys(kodo_conn.bucket, "nothing/") == []


def test_keys_with_spaces_plus_and_non_ascii_round_trip(kodo_conn: KodoBucket):
    key = "日志/a b+c ü.jsonl"
    kodo_conn.put(key, b'{"k": 1}\n')
    hook = KodoHook()
    assert hook.list_keys(kodo_conn.bucket, "日志/") == [key]
    assert hook.open_object(kodo_conn.bucket, key).read() == b'{"k": 1}\n'


# ---- reading --------------------------------------------------------------------------------
def test_ranged_reads_resume_from_a_byte_offset(kodo_conn: KodoBucket):
    data = bytes(range(256)) * 40
    kodo_conn.put("r/blob", data)
    hook = KodoHook()
    assert hook.object_size(kodo_conn.bucket, "r/blob") == len(data)

    body = hook.open_object(kodo_conn.bucket, "r/blob", start=1000)
    assert body.read(10) == data[1000:1010]
    assert b"".join(body.iter_chunks(333)) == data[1010:]
    body.close()
    whole = hook.open_object(kodo_conn.bucket, "r/blob")
    assert [len(c) for c in whole.iter_chunks(4096)] == [4096, 4096, len(data) - 8192]
    assert hook.open_object(kodo_conn.bucket, "r/blob", start=len(data) - 1).read() == data[-1:]


def test_reading_past_the_end_or_before_the_start_is_refused(kodo_conn: KodoBucket):
    kodo_conn.put("r/small", b"12345")
    hook = KodoHook()
    with pytest.raises(KodoError, match=r"s3://kodo-test-\w+/r/small") as info:
        hook.open_object(kodo_conn.bucket, "r/small", start=5)
    assert info.value.code == "InvalidRange"
    with pytest.raises(PandoraValidationError, match="start"):
        hook.open_object(kodo_conn.bucket, "r/small", start=-1)


_STREAM_CHILD = """
import hashlib, json, os, sys
from airflow_provider_pandora.hooks.kodo import KodoHook

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


bucket, key, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
hook = KodoHook()
warm = hook.open_object(bucket, key)
warm.read(chunk)
warm.close()
before = peak = rss()
digest, total, largest = hashlib.sha256(), 0, 0
body = hook.open_object(bucket, key)
for piece in body.iter_chunks(chunk):
    digest.update(piece)
    total += len(piece)
    largest = max(largest, len(piece))
    peak = max(peak, rss())
body.close()
print(json.dumps({"sha256": digest.hexdigest(), "bytes": total, "largest": largest,
                  "growth_mib": (peak - before) / 2**20}))
"""


def _write_lines(path: Path, size: int) -> str:
    """About ``size`` bytes of JSON lines, written piece by piece; returns the SHA-256."""
    digest = hashlib.sha256()
    written = 0
    with path.open("wb") as out:
        i = 0
        while written < size:
            block = "".join(
                f'{{"n": {n}, "msg": "事件 {n} ok", "path": "/api/v1/items/{n}"}}\n' for n in range(i, i + 10_000)
            ).encode()
            i += 10_000
            out.write(block)
            digest.update(block)
            written += len(block)
    return digest.hexdigest()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
def test_object_over_50_mb_streams_in_bounded_memory(kodo_conn: KodoBucket, tmp_path: Path):
    source = tmp_path / "big.jsonl"
    expected = _write_lines(source, 52 * MiB)
    kodo_conn.put_file("big/big.jsonl", source)
    size = source.stat().st_size
    source.unlink()

    # The reader runs in its own process: the moto server lives in this one and holds the object.
    result = subprocess.run(
        [sys.executable, "-c", _STREAM_CHILD, kodo_conn.bucket, "big/big.jsonl", str(MiB)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bytes"] == size > 50 * 1000 * 1000
    assert report["sha256"] == expected
    assert report["largest"] <= MiB
    # The resident set is sampled after every chunk. Reading the body whole would grow it by more than the
    # object's size (~2.3x, measured with boto3's ``read()``); streaming stays near one chunk.
    assert report["growth_mib"] < 24, report
    print(f"streamed {size} bytes; reader peak RSS grew {report['growth_mib']:.1f} MiB")


# ---- errors ---------------------------------------------------------------------------------
def test_missing_bucket_is_named_with_the_s3_name_hint(kodo_conn: KodoBucket):
    hook = KodoHook()
    for call in (
        lambda: hook.list_keys("no-such-bucket-kodo"),
        lambda: hook.object_size("no-such-bucket-kodo", "a.jsonl"),
        lambda: hook.open_object("no-such-bucket-kodo", "a.jsonl"),
    ):
        with pytest.raises(KodoError, match="'no-such-bucket-kodo' does not exist") as info:
            call()
        assert info.value.code == "NoSuchBucket"
        assert info.value.bucket == "no-such-bucket-kodo"
        assert "S3 bucket name" in str(info.value)


def test_missing_key_is_named(kodo_conn: KodoBucket):
    hook = KodoHook()
    for call in (
        lambda: hook.object_size(kodo_conn.bucket, "logs/missing.jsonl"),
        lambda: hook.open_object(kodo_conn.bucket, "logs/missing.jsonl"),
    ):
        with pytest.raises(KodoError, match=rf"s3://{kodo_conn.bucket}/logs/missing.jsonl does not exist") as info:
            call()
        assert (info.value.code, info.value.key, info.value.status_code) == ("NoSuchKey", "logs/missing.jsonl", 404)
        assert not info.value.retryable


def test_unreachable_endpoint(kodo_conn: KodoBucket, monkeypatch: pytest.MonkeyPatch):
    port = _refused_port()
    conn = {"conn_type": "kodo", "host": f"http://127.0.0.1:{port}", "login": "ak", "password": "sk-unreachable"}
    conn["extra"] = json.dumps({"retry_limit": 1, "timeout": 5})
    monkeypatch.setenv("AIRFLOW_CONN_KODO_NOWHERE", json.dumps(conn))
    hook = KodoHook("kodo_nowhere")
    with pytest.raises(KodoError, match=rf"Could not reach the Kodo S3 endpoint http://127.0.0.1:{port}") as info:
        hook.list_keys(kodo_conn.bucket, "x/")
    assert info.value.code == "EndpointUnreachable"
    assert info.value.retryable
    ok, message = hook.test_connection()
    assert not ok
    assert "Could not reach" in message


def test_connection_test_reports_the_endpoint(kodo_conn: KodoBucket):
    ok, message = KodoHook().test_connection()
    assert ok, message
    assert kodo_conn.endpoint_url in message


# ---- credentials ----------------------------------------------------------------------------
def _conn_with(kodo_conn: KodoBucket, monkeypatch: pytest.MonkeyPatch, ak: str, sk: str) -> KodoHook:
    conn = json.loads(kodo_conn.connection_json(retry_limit=1))
    conn.update(login=ak, password=sk)
    monkeypatch.setenv("AIRFLOW_CONN_KODO_CREDS", json.dumps(conn))
    return KodoHook("kodo_creds")


def test_wrong_secret_key_is_refused_without_showing_it(
    moto_s3: MotoS3, kodo_conn: KodoBucket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    kodo_conn.put("p/a.jsonl", b"{}\n")
    caplog.set_level(logging.DEBUG)
    wrong_secret = "WRONG-secret-7c2e91f0a4"
    with moto_s3.require_signatures() as (ak, sk):
        caplog.clear()  # creating the IAM key logged its response; only the hook's logs matter here
        assert _conn_with(kodo_conn, monkeypatch, ak, sk).list_keys(kodo_conn.bucket, "p/") == ["p/a.jsonl"]

        hook = _conn_with(kodo_conn, monkeypatch, ak, wrong_secret)
        with pytest.raises(KodoError) as info:
            hook.open_object(kodo_conn.bucket, "p/a.jsonl")
        assert info.value.code == "SignatureDoesNotMatch"
        assert "kodo_creds" in str(info.value)
        assert "secret key (password)" in str(info.value)
        ok, message = hook.test_connection()

        unknown = _conn_with(kodo_conn, monkeypatch, "AKIDUNKNOWN000000000", sk)
        with pytest.raises(KodoError) as unknown_info:
            unknown.list_keys(kodo_conn.bucket)
        assert unknown_info.value.code == "InvalidAccessKeyId"

    assert not ok
    assert "SignatureDoesNotMatch" in message
    texts: list[Any] = [str(info.value), repr(info.value), message, pickle.dumps(info.value), repr(hook), caplog.text]
    for text in texts:
        assert wrong_secret not in str(text)
        assert sk not in str(text)
