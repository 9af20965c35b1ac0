"""Transfer speed and memory against the emulator's ``--sink`` (issue 7's targets), all in one run.

* ``passthrough_vs_curl``: a ``pandora``-format file of ``BENCH_TRANSFER_BYTES`` (1 GiB) through
  :class:`~airflow_provider_pandora.transfers._engine.Transfer`, against one ``curl`` process posting
  pre-built < 2 MiB batches of the same lines one after another over one kept-alive connection
  (``--next``), the same number of bytes (target >= 0.8).
* ``jsonl_vs_json_loads``: a JSON-lines file (``BENCH_TRANSFER_JSONL_BYTES``, 128 MiB) through the
  transfer, against a bare loop running only ``json.loads`` over it (target >= 0.5).
* ``jsonl_vs_naive``: the same file, against a straightforward loop: ``json.loads``, string formatting,
  ``requests.post`` per 2 MiB batch (target >= 2).
  Both jsonl rows report the faster of the default (encoding in the task's process) and
  ``encode_processes=<cores>``; the row names the configuration and carries both speeds.
  Each jsonl row carries the decoder that really ran, as the transfer's reader counted it
  (``Transfer.decoded``, lines per decoder, added up from the encoding processes too), and the run
  fails if any line of either configuration was decoded by another decoder than the row's name says.
* ``rss_1gib_minus_10mib_mib``: peak RSS of the pass-through of the 1 GiB file minus that of a 10 MiB
  file (target <= 64 MiB).

Every measured loop runs in its own child process (``python -m benchmarks.bench_transfer --child ...``)
so peak RSS and the GIL belong to that loop alone; the sink is another process, as in bench_emulator.

``BENCH_TRANSFER_PARTS`` (default ``passthrough,jsonl``) runs only some parts, e.g. ``jsonl`` to
re-measure the ``jsonl`` rows alone (the runner keeps the other rows already in ``results.json``).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow_provider_pandora import auth, wire
from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from airflow_provider_pandora.hooks._transport import PandoraAuth
from airflow_provider_pandora.transfers import _decode
from benchmarks import _sinks
from benchmarks._sinks import curl_config, nginx_sink, run_curls
from benchmarks.bench_emulator import SCHEMA, _emulator

PASSTHROUGH_BYTES = int(os.environ.get("BENCH_TRANSFER_BYTES", str(1 << 30)))
JSONL_BYTES = int(os.environ.get("BENCH_TRANSFER_JSONL_BYTES", str(128 << 20)))
PARTS = {part.strip() for part in os.environ.get("BENCH_TRANSFER_PARTS", "passthrough,jsonl").split(",")}
REPO = "bench"
TARGETS = {
    "passthrough_vs_curl": 0.8,
    "jsonl_vs_json_loads": 1.0,
    "jsonl_vs_naive": 3.0,
    "jsonl_stdlib_vs_json_loads": 0.5,
    "jsonl_stdlib_vs_naive": 2.0,
}
EMULATOR_SINK_BYTES = 256 << 20
"""The emulator's Python ``--sink`` row: fewer bytes (it runs near 50 MiB/s)."""
MIB = 1 << 20
GIB = 1 << 30
ENCODE_PROCESSES = max(1, min(4, os.cpu_count() or 1))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def _point(i: int) -> dict[str, Any]:
    return {
        "user": f"user{i % 5000}",
        "path": f"/api/v1/items/{i}",
        "agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "zone": "nb",
        "hits": i,
        "bytes": i * 31,
        "status": 200,
        "latency": round(0.001 * (i % 997), 3),
        "ok": i % 7 != 0,
        "at": f"2024-05-01T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
    }


def _block(kind: str, budget: int = wire.MAX_BATCH_BYTES - 2) -> bytes:
    """About ``budget`` bytes of whole lines; files repeat it (the content does not change the cost)."""
    encoder = wire.PointEncoder(_fields())
    out: list[bytes] = []
    size = i = 0
    while True:
        point = _point(i)
        line = (encoder.encode(point) if kind == "pandora" else json.dumps(point).encode()) + b"\n"
        if size + len(line) > budget:
            return b"".join(out)
        out.append(line)
        size += len(line)
        i += 1


def _fields() -> Any:
    from airflow_provider_pandora.schema import parse_schema

    return parse_schema(SCHEMA)


def _write(path: Path, block: bytes, total: int) -> Path:
    with path.open("wb") as out:
        written = 0
        while written + len(block) <= total:
            out.write(block)
            written += len(block)
        rest = block[: max(0, total - written)]
        out.write(rest[: rest.rfind(b"\n") + 1])
    return path


# --------------------------------------------------------------------------------------------
# Child processes: each measured loop alone
# --------------------------------------------------------------------------------------------
def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process's threads and its reaped children (encoding processes),
    from the kernel's accounting: unlike wall time, it holds when other processes compete for the cores."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _child_transfer(url: str, path: str, fmt: str, processes: int = 0) -> dict[str, Any]:
    os.environ["AIRFLOW_CONN_PANDORA_DEFAULT"] = json.dumps(
        {"conn_type": "pandora", "host": url, "login": DEMO_ACCESS_KEY, "password": DEMO_SECRET_KEY}
    )
    from airflow_provider_pandora.hooks.pandora import PandoraHook
    from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
    from airflow_provider_pandora.transfers.local_to_pandora import local_sources

    options = TransferOptions(
        repo=REPO, format=fmt, schema=SCHEMA if fmt != "pandora" else None, encode_processes=processes
    )
    # Resolving the Airflow connection is a one-off cost of Airflow's (~0.5 s on the first hook of a
    # process here), not of the transfer: paid before the clock, reported as startup_s.
    hook = PandoraHook()
    started = time.perf_counter()
    hook.get_conn()
    startup = time.perf_counter() - started
    cpu = _cpu_s()
    started = time.perf_counter()
    transfer = Transfer(hook, options)
    result = transfer.run(local_sources(path))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "startup_s": startup,
        "cpu_s": _cpu_s() - cpu,
        "points": result["points"],
        "bytes": os.path.getsize(path),
        "rss_mib": _max_rss_mib(),
        # lines per JSON decoder as the reader counted them (workers' counts come back with their batches),
        # not the setting: the row must show what ran
        "decoded": transfer.decoded,
    }


def _decode_loop(path: str, loads: Any) -> dict[str, Any]:
    """The bare baseline: ``loads`` over every line, nothing else (CPU from the OS's accounting)."""
    cpu = _cpu_s()
    started = time.perf_counter()
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return {"seconds": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu, "points": count}


def _child_json_loads(path: str) -> dict[str, Any]:
    return _decode_loop(path, json.loads)


def _child_msgspec(path: str) -> dict[str, Any]:
    """The bare loop with msgspec's decoder instead (a reference: what parsing costs on the fast path)."""
    import msgspec

    return _decode_loop(path, msgspec.json.Decoder().decode)


def _child_naive(url: str, path: str) -> dict[str, Any]:
    import requests

    session = requests.Session()
    session.auth = PandoraAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    target = f"{url}/v2/repos/{REPO}/data"
    cpu = _cpu_s()
    started = time.perf_counter()
    batch: list[str] = []
    size = count = 0

    def post() -> None:
        response = session.post(target, data=("\n".join(batch) + "\n").encode(), headers={"Content-Type": "text/plain"})
        response.raise_for_status()

    with open(path, "rb") as handle:
        for line in handle:
            point = json.loads(line)
            text = "\t".join(f"{key}={value}" for key, value in point.items())
            cost = len(text.encode()) + 1
            if batch and size + cost >= wire.MAX_BATCH_BYTES:
                post()
                batch, size = [], 0
            batch.append(text)
            size += cost
            count += 1
    if batch:
        post()
    return {"seconds": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu, "points": count}


def _child(args: list[str]) -> None:
    kind = args[0]
    if kind == "transfer":
        result = _child_transfer(args[1], args[2], args[3], int(args[4]) if len(args) > 4 else 0)
    elif kind == "json_loads":
        result = _child_json_loads(args[1])
    elif kind == "msgspec":
        result = _child_msgspec(args[1])
    elif kind == "naive":
        result = _child_naive(args[1], args[2])
    else:
        raise SystemExit(f"unknown child {kind!r}")
    print("RESULT " + json.dumps(result), flush=True)


def _run_child(*args: str, decoder: str | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if decoder is not None:
        env["AIRFLOW_PROVIDER_PANDORA_JSON"] = decoder
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_transfer", "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise RuntimeError(f"benchmark child {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


# --------------------------------------------------------------------------------------------
# curl: the same bytes as pre-built batches over one kept-alive connection
# --------------------------------------------------------------------------------------------
def _curl(url: str, batch: Path, count: int, work: Path) -> dict[str, Any]:
    date = auth.http_date()
    path = f"/v2/repos/{REPO}/data"
    signature = auth.authorization(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, "POST", path, date=date, content_type="text/plain")
    headers = {"Content-Type": "text/plain", "Date": date, "Authorization": signature}
    config = curl_config(f"{url}{path}", batch, count, headers, work, "curl.cfg")
    return run_curls([config], count) | {"bytes": batch.stat().st_size * count}


def _row(name: str, value: float, unit: str, baseline: float, ratio: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": unit,
        "baseline": round(baseline, 2),
        "ratio": round(ratio, 3),
        **extra,
    }


def _lps(result: dict[str, Any]) -> float:
    return float(result["points"] / result["seconds"])


def _s_per_gib(result: dict[str, Any], size: int) -> float:
    return float(result["cpu_s"] / (size / GIB))


def _check_decoder(result: dict[str, Any], decoder: str, config: str) -> None:
    """Raise unless the reader decoded every line of this run with ``decoder`` (and no line with another)."""
    decoded = result["decoded"]
    if decoded != {decoder: result["points"]}:
        raise RuntimeError(
            f"the jsonl run with {config} was meant to measure the {decoder} decoder, but its reader decoded "
            f"{decoded or 'no lines'} for {result['points']} points"
        )


def _jsonl(url: str, points: Path, decoder: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The faster of encoding in the task's process and in ``ENCODE_PROCESSES`` processes, with this decoder
    (both runs checked: every line decoded by ``decoder``, counted by the transfer's reader)."""
    inline = _run_child("transfer", url, str(points), "jsonl", "0", decoder=decoder)
    _check_decoder(inline, decoder, "encode_processes=0")
    procs = _run_child("transfer", url, str(points), "jsonl", str(ENCODE_PROCESSES), decoder=decoder)
    _check_decoder(procs, decoder, f"encode_processes={ENCODE_PROCESSES}")
    if _lps(inline) >= _lps(procs):
        return inline, "encode_processes=0", procs
    return procs, f"encode_processes={ENCODE_PROCESSES}", inline


def _passthrough(work: Path) -> list[dict[str, Any]]:
    """The pass-through rows: the sink's ceiling, ours against curl (nginx), and against the emulator's sink."""
    if shutil.which("curl") is None:
        raise RuntimeError("curl is needed for the pass-through baseline")
    block = _block("pandora")
    big = _write(work / "big.txt", block, PASSTHROUGH_BYTES)
    batch = work / "batch.txt"
    batch.write_bytes(block)
    batches = max(1, PASSTHROUGH_BYTES // len(block))
    with nginx_sink() as url:
        ceiling = _sinks.ceiling(url, batch, max(1, batches // 2))
        curl = _curl(url, batch, batches, work)
        ours = _run_child("transfer", url, str(big), "pandora")
    big.unlink()
    emulator_bytes = min(PASSTHROUGH_BYTES, EMULATOR_SINK_BYTES)
    emulator_big = _write(work / "emulator.txt", block, emulator_bytes)
    with _emulator("--sink") as url:
        emulator_curl = _curl(url, batch, max(1, emulator_bytes // len(block)), work)
        emulator_ours = _run_child("transfer", url, str(emulator_big), "pandora")

    rows = []
    curl_mibps = curl["bytes"] / MIB / curl["seconds"]
    ceiling_mibps = ceiling["bytes"] / MIB / ceiling["seconds"]
    ours_mibps = ours["bytes"] / MIB / ours["seconds"]
    rows.append(
        _row(
            "sink_ceiling_vs_curl",
            ceiling_mibps,
            "MiB/s",
            curl_mibps,
            ceiling_mibps / curl_mibps,
            target=3.0,
            sink="nginx (2 workers)",
            ceiling_client=f"{ceiling['connections']} sendfile connections at once",
        )
    )
    rows.append(
        _row(
            "passthrough_vs_curl",
            ours_mibps,
            "MiB/s",
            curl_mibps,
            ours_mibps / curl_mibps,
            target=TARGETS["passthrough_vs_curl"],
            sink="nginx",
            bytes=ours["bytes"],
        )
    )
    ours_cpu = _s_per_gib(ours, ours["bytes"])
    curl_cpu = _s_per_gib(curl, curl["bytes"])
    rows.append(
        _row(
            "passthrough_cpu_vs_curl",
            ours_cpu,
            "CPU s/GiB",
            curl_cpu,
            curl_cpu / ours_cpu,
            target=0.5,
            note="ratio = curl's CPU s/GiB over ours (>= 0.5: ours <= 2x curl's)",
        )
    )
    emu_curl = emulator_curl["bytes"] / MIB / emulator_curl["seconds"]
    emu_ours = emulator_ours["bytes"] / MIB / emulator_ours["seconds"]
    rows.append(
        _row(
            "passthrough_vs_curl_emulator_sink",
            emu_ours,
            "MiB/s",
            emu_curl,
            emu_ours / emu_curl,
            sink="emulator --sink (Python; both sides measure the sink)",
            bytes=emulator_ours["bytes"],
        )
    )
    return rows


def _jsonl_rows(work: Path) -> list[dict[str, Any]]:
    """The ``jsonl`` rows: the transfer with each decoder against the bare ``json.loads`` loop and the naive one."""
    points = _write(work / "points.jsonl", _block("jsonl", 8 << 20), JSONL_BYTES)
    jsonl_bytes = points.stat().st_size
    # (row prefix, the decoder its name claims): "jsonl" is msgspec, "jsonl_stdlib" the standard library
    variants = [("jsonl", "msgspec"), ("jsonl_stdlib", "stdlib")]
    if not _decode.AVAILABLE:
        print("msgspec is not importable here: no jsonl_* msgspec rows (only jsonl_stdlib_*)", flush=True)
        variants = variants[1:]
    measured = {}
    with nginx_sink() as url:
        loads = _run_child("json_loads", str(points))
        fast_loads = _run_child("msgspec", str(points)) if _decode.AVAILABLE else None
        naive = _run_child("naive", url, str(points))
        for prefix, decoder in variants:
            measured[prefix] = (decoder, *_jsonl(url, points, decoder))
        # Each transfer row is the faster of two configurations, run minutes apart; on a shared machine
        # whose load swings, a baseline measured once, at another moment, compares moments, not programs.
        # So the baselines run again after the transfers and each keeps its faster run too.
        loads = min(loads, _run_child("json_loads", str(points)), key=lambda r: r["seconds"])
        naive = min(naive, _run_child("naive", url, str(points)), key=lambda r: r["seconds"])

    rows = []
    loads_lps = _lps(loads)
    naive_lps = _lps(naive)
    loads_cpu = _s_per_gib(loads, jsonl_bytes)
    for prefix, (decoder, result, config, other) in measured.items():
        lps = _lps(result)
        extra = {
            "decoder": decoder,  # checked against what the reader counted (_check_decoder), in both configs
            "decoded_lines": result["decoded"],
            "config": config,
            "other_config_lines_per_s": round(_lps(other)),
        }
        rows.append(
            _row(
                f"{prefix}_vs_json_loads",
                lps,
                "lines/s",
                loads_lps,
                lps / loads_lps,
                target=TARGETS[f"{prefix}_vs_json_loads"],
                **extra,
                **({"msgspec_loop_lines_per_s": round(_lps(fast_loads))} if fast_loads else {}),
            )
        )
        rows.append(
            _row(
                f"{prefix}_vs_naive",
                lps,
                "lines/s",
                naive_lps,
                lps / naive_lps,
                target=TARGETS[f"{prefix}_vs_naive"],
                cpu_s_per_gib=round(_s_per_gib(result, jsonl_bytes), 2),
                naive_cpu_s_per_gib=round(_s_per_gib(naive, jsonl_bytes), 2),
                **extra,
            )
        )
        cpu = _s_per_gib(result, jsonl_bytes)
        rows.append(
            _row(
                f"{prefix}_cpu_vs_json_loads",
                cpu,
                "CPU s/GiB",
                loads_cpu,
                loads_cpu / cpu,
                note="ratio = the bare json.loads loop's CPU s/GiB over the transfer's (all its processes)",
                **extra,
            )
        )
    return rows


def run() -> list[dict[str, Any]]:
    """Rows ``{"name", "value", "unit", "baseline", "ratio"}`` (ratio = ours / baseline, higher is better;
    for the CPU rows the ratio is the baseline's CPU s/GiB over ours), of the parts in ``BENCH_TRANSFER_PARTS``."""
    unknown = PARTS - {"passthrough", "jsonl"}
    if unknown:
        raise ValueError(f"BENCH_TRANSFER_PARTS: unknown part(s) {sorted(unknown)}; known: passthrough, jsonl")
    work = Path(tempfile.mkdtemp(prefix="pandora-bench-transfer-"))
    try:
        rows = []
        if "passthrough" in PARTS:
            rows += _passthrough(work)
        if "jsonl" in PARTS:
            rows += _jsonl_rows(work)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        for row in run():
            print(row)
