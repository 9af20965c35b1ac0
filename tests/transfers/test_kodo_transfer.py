"""KodoToPandoraOperator against moto's S3 server on loopback and the emulator: prefixes, gzip, a > 50 MB object."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import PandoraServerError, TransferError
from airflow_provider_pandora.hooks.kodo import ObjectInfo
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers._checkpoints import MemoryCheckpoints
from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator, kodo_sources
from tests.moto_s3 import KodoBucket
from tests.transfers.conftest import REPO, jsonl, users

pytestmark = pytest.mark.timeout(60)


def lines(start: int, stop: int) -> bytes:
    return "".join(line + "\n" for line in jsonl({"user": f"u{i}", "hits": i} for i in range(start, stop))).encode()


def test_every_object_under_a_multi_page_prefix(
    repo: str, pandora: PandoraEmulator, kodo_conn: KodoBucket, context: dict[str, Any]
) -> None:
    for n in range(5):
        data = lines(n * 100, n * 100 + 100)
        if n == 2:
            kodo_conn.put(f"logs/2024/part-{n}.jsonl.gz", gzip.compress(data))
        else:
            kodo_conn.put(f"logs/2024/part-{n}.jsonl", data)
    kodo_conn.put("logs/2024/folder/", b"")
    kodo_conn.put("other/decoy.jsonl", lines(900, 901))
    op = KodoToPandoraOperator(task_id="load", bucket=kodo_conn.bucket, prefix="logs/2024/", repo=REPO, page_size=2)
    result = op.execute(context)  # type: ignore[arg-type]
    assert result["sources"] == 5
    assert result["points"] == 500
    assert Counter(users(pandora)) == Counter(f"u{i}" for i in range(500))

    one = KodoToPandoraOperator(task_id="one", bucket=kodo_conn.bucket, key="other/decoy.jsonl", repo=REPO)
    assert one.execute(context)["points"] == 1  # type: ignore[arg-type]
    with pytest.raises(TransferError, match="no objects under"):
        KodoToPandoraOperator(task_id="none", bucket=kodo_conn.bucket, prefix="nope/", repo=REPO).execute(context)  # type: ignore[arg-type]
    with pytest.raises(TransferError, match="either key or prefix"):
        KodoToPandoraOperator(task_id="both", bucket=kodo_conn.bucket, key="k", prefix="p", repo=REPO).execute(context)  # type: ignore[arg-type]


def test_object_over_50_mb_streams_and_resumes_with_a_ranged_read(
    repo: str, pandora: PandoraEmulator, kodo_conn: KodoBucket, tmp_path: Path
) -> None:
    from airflow_provider_pandora.hooks.kodo import KodoHook

    pad = "x" * 4000
    count = 0
    big = tmp_path / "big.txt"
    with big.open("w") as out:  # generated line by line, uploaded in parts: never whole in memory
        while out.tell() < 52 * 1024 * 1024:
            out.write(f"user=u{count}-{pad}\thits={count}\n")
            count += 1
    kodo_conn.put_file("big/one.txt", big)
    data = f"/v2/repos/{REPO}/data"
    acks: list[dict[str, Any]] = []

    def kill(result: dict[str, Any]) -> None:
        acks.append(result)
        if len(acks) == 8:
            pandora.add_fault("error", method="POST", path=data, status=429)

    hook = KodoHook()
    ranges: list[int] = []
    original = hook.open_object

    def spy(bucket: str, key: str, *, start: int = 0, etag: str | None = None) -> Any:
        ranges.append(start)
        assert etag  # every read, the first one too, is of the version listed
        return original(bucket, key, start=start, etag=etag)

    hook.open_object = spy  # type: ignore[method-assign]
    sources = kodo_sources(hook, kodo_conn.bucket, "big/one.txt", None)
    store = MemoryCheckpoints()
    options = TransferOptions(repo=REPO, format="pandora", attempts=2)
    with pytest.raises(PandoraServerError):
        Transfer(PandoraHook(), options, checkpoints=store, on_ack=kill).run(sources)
    offset = store.load()["offset"]  # type: ignore[index]
    assert offset > 0
    pandora.clear_faults()
    result = Transfer(PandoraHook(), options, checkpoints=store).run(sources)
    assert ranges == [0, offset]  # the second try asked Kodo for the rest only
    assert result["points"] == count
    assert result["bytes"] == big.stat().st_size
    stored = Counter(users(pandora))
    assert len(stored) == count
    assert sum(stored.values()) - count == result["possible_duplicates"]


class _Broken:
    """A streaming body that breaks after ``limit`` bytes, as a dropped Kodo connection does."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit
        self.pos = 0

    def read(self, n: int | None = None) -> bytes:
        if self.pos >= self.limit:
            raise ConnectionResetError("connection reset by peer")
        end = min(self.limit, len(self.data) if n is None else self.pos + n)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def close(self) -> None:
        pass


def test_a_broken_object_read_resumes_from_the_byte_it_reached() -> None:
    data = lines(0, 2000)

    class Hook:
        starts: list[int] = []

        def object_info(self, bucket: str, key: str) -> ObjectInfo:
            return ObjectInfo(key, len(data), "", "")

        def open_object(self, bucket: str, key: str, *, start: int = 0) -> _Broken:
            self.starts.append(start)
            return _Broken(data[start:], 10_000)

    hook = Hook()
    (source,) = kodo_sources(hook, "b", "k.jsonl", None)
    stream = source.open(0)
    assert stream.read() == data
    assert hook.starts == list(range(0, len(data), 10_000))
