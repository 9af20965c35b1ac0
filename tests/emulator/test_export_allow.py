"""``http`` exports deliver only where the user allowed (``--export-allow``), and never to the emulator itself.

The reproduction of issue 18 item 4: an export aimed at the emulator's own ``/_emulator/reset`` wiped every repo.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_pandora.emulator.__main__ import build_parser
from airflow_provider_pandora.emulator.delivery import export_allow
from airflow_provider_pandora.emulator.delivery.export_allow import AllowEntry, ExportPolicy, parse_allow
from airflow_provider_pandora.emulator.delivery.export_targets import http_destination
from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api

LONGS = [{"key": "user", "valtype": "string"}, {"key": "hits", "valtype": "long"}]
LOGGER = "airflow_provider_pandora.emulator.core.background"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


class Receiver:
    """An HTTP export target on a free loopback port: what it was posted."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.close()


def _own_port(emulator: PandoraEmulator) -> int:
    return int(emulator.url.rsplit(":", 1)[1])


def _source(api: Api, points: str = "user=a\thits=1\nuser=b\thits=2\n") -> None:
    api.repo("src", LONGS)
    api.ok(api.push("src", points))


# ---- the reproduction: an export at the emulator's own admin endpoints ------------------------------------
@pytest.mark.parametrize("listed", [False, True], ids=["not-listed", "listed"])
@pytest.mark.parametrize(
    "host",
    ["{url}", "127.0.0.1:{port}", "http://LOCALHOST:{port}", "localhost:{port}", "0.0.0.0:{port}", "[::1]:{port}"],
)
def test_an_export_at_the_emulators_own_reset_is_refused_and_every_repo_survives(
    pandora_emulator: PandoraEmulator, host: str, listed: bool, caplog: pytest.LogCaptureFixture
):
    api = Api(pandora_emulator)
    _source(api)
    api.repo("keep", LONGS)
    spec_host = host.format(url=pandora_emulator.url, port=_own_port(pandora_emulator))
    if listed:  # even an explicit allow cannot open the emulator to itself
        pandora_emulator.allow_export(http_destination({"host": spec_host}).authority)
    caplog.set_level(logging.WARNING, LOGGER)
    api.export("src", "boom", "http", {"host": spec_host, "uri": "/_emulator/reset"})
    for _ in range(3):
        pandora_emulator.deliver_exports()

    assert api.get("/v2/repos/keep").status_code == 200
    assert len(pandora_emulator.points("src")) == 2
    status = requests.get(f"{pandora_emulator.url}/_emulator/exports/src/boom", timeout=10).json()
    assert status["state"] == "refused"
    assert (status["delivered"], status["undelivered"]) == (0, 2)
    assert "the emulator's own address" in status["lastError"]
    assert status["refused"] == http_destination({"host": spec_host}).authority
    lines = [r.getMessage() for r in caplog.records if "boom" in r.getMessage()]
    assert len(lines) == 1, lines  # one line, not one per pass
    assert "never deliver to the emulator itself" in lines[0]


def test_a_name_that_resolves_to_the_emulator_is_refused(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
):
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "sneaky.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    api = Api(pandora_emulator)
    _source(api)
    pandora_emulator.allow_export("sneaky.example")
    api.export("src", "boom", "http", {"host": f"sneaky.example:{_own_port(pandora_emulator)}", "uri": "/x"})
    pandora_emulator.deliver_exports()
    status = pandora_emulator.export_status("src", "boom")
    assert status["status"] == "refused"
    assert "sneaky.example resolves to 127.0.0.1, the emulator's own address" in status["lastError"]
    assert status["undelivered"] == 2


def test_delivery_connects_to_the_addresses_that_were_checked(
    pandora_emulator: PandoraEmulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    """``sink.example`` resolves (here) to the receiver only through the policy's lookup: the delivery uses that
    answer rather than resolving again, so a name cannot point elsewhere between the check and the POST."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "sink.example" else host, *args, **kwargs)

    # only the policy's view of the resolver knows the name: http.client resolving it again would fail
    monkeypatch.setattr(export_allow, "socket", types.SimpleNamespace(**{**vars(socket), "getaddrinfo": fake}))
    api = Api(pandora_emulator)
    _source(api)
    pandora_emulator.allow_export(f"sink.example:{receiver.port}")
    api.export("src", "h", "http", {"host": f"sink.example:{receiver.port}", "uri": "/in"})
    pandora_emulator.deliver_exports()
    assert b"".join(receiver.bodies) == b"user=a\thits=1\nuser=b\thits=2\n"


# ---- allowed and unlisted destinations ------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["127.0.0.1:{port}", "127.0.0.1"], ids=["host-and-port", "every-port"])
def test_an_allowed_receiver_gets_every_point(receiver: Receiver, entry: str):
    with PandoraEmulator(export_allow=[entry.format(port=receiver.port)]) as emulator:
        api = Api(emulator)
        _source(api)
        api.export("src", "h", "http", {"host": f"http://{receiver.address}", "uri": "/in"})
        wait_for(lambda: emulator.export_status("src", "h").get("delivered") == 2)
        assert emulator.wait_idle(timeout=5)
        status = requests.get(f"{emulator.url}/_emulator/exports/src/h", timeout=10).json()
        assert (status["state"], status["undelivered"], status["lastError"], status["refused"]) == (
            "running",
            0,
            "",
            "",
        )
    assert b"".join(receiver.bodies) == b"user=a\thits=1\nuser=b\thits=2\n"


def test_hosts_match_as_written_whatever_their_case_and_ports_by_scheme_default():
    policy = ExportPolicy(["Sink.Example", "other.example:8080", "[::1]:9000"])
    assert policy.entries == (
        AllowEntry("sink.example", None),
        AllowEntry("other.example", 8080),
        AllowEntry("::1", 9000),
    )

    def allowed(host: str) -> bool:
        destination = http_destination({"host": host, "uri": "/"})
        return any(entry.matches(destination) for entry in policy.entries)

    assert allowed("SINK.example:1234")
    assert allowed("https://sink.example")
    assert allowed("other.example:8080")
    assert not allowed("other.example")  # port 80
    assert not allowed("https://other.example")  # port 443
    assert allowed("http://[::1]:9000")
    assert not allowed("127.0.0.1:8080")  # names are not resolved: 127.0.0.1 is not other.example
    assert not allowed("sink.example.evil:80")


def test_an_unlisted_receiver_is_refused_counted_undelivered_logged_once_then_allowed_at_once(
    pandora_emulator: PandoraEmulator, receiver: Receiver, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, LOGGER)
    api = Api(pandora_emulator)
    _source(api)
    api.export("src", "h", "http", {"host": receiver.address, "uri": "/in"})
    for _ in range(3):
        pandora_emulator.deliver_exports()
    api.ok(api.push("src", "user=c\thits=3\n"))
    pandora_emulator.deliver_exports()

    assert receiver.bodies == []
    status = requests.get(f"{pandora_emulator.url}/_emulator/exports/src/h", timeout=10).json()
    assert (status["state"], status["delivered"], status["undelivered"]) == ("refused", 0, 3)
    assert status["refused"] == receiver.address
    assert f"start the emulator with --export-allow {receiver.address}" in status["lastError"]
    assert pandora_emulator.wait_idle(timeout=1)  # nothing more it can deliver: not waited for
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1, lines
    assert lines[0] == (
        f"export 'h' of repo 'src': delivery to http://{receiver.address}/in refused: {receiver.address} is not in "
        f"the emulator's --export-allow list; to allow it, start the emulator with --export-allow {receiver.address}"
        f" (in Python: PandoraEmulator(export_allow=['{receiver.address}']))"
    )

    pandora_emulator.allow_export(receiver.address)  # the refused points were kept: they go now, in order
    wait_for(lambda: pandora_emulator.export_status("src", "h").get("delivered") == 3)
    assert b"".join(receiver.bodies) == b"user=a\thits=1\nuser=b\thits=2\nuser=c\thits=3\n"
    status = pandora_emulator.export_status("src", "h")
    assert (status["status"], status["undelivered"], status["refused"], status["lastError"]) == ("running", 0, "", "")


def test_a_spec_moved_to_an_allowed_receiver_delivers(receiver: Receiver):
    with PandoraEmulator(export_allow=[receiver.address], tick=3600) as emulator:
        api = Api(emulator)
        _source(api)
        api.export("src", "h", "http", {"host": "127.0.0.2:9", "uri": "/in"})
        emulator.deliver_exports()
        assert emulator.export_status("src", "h")["status"] == "refused"
        api.ok(api.put("/v2/repos/src/exports/h", {"spec": {"host": receiver.address, "uri": "/in"}}))
        emulator.deliver_exports()
        assert emulator.export_status("src", "h")["delivered"] == 2
    assert len(receiver.bodies) == 1


def test_exports_that_open_no_connection_need_no_allow(pandora_emulator: PandoraEmulator):
    api = Api(pandora_emulator)
    _source(api)
    api.export("src", "m", "mongo", {"host": "10.0.0.1:27017", "dbName": "d", "collName": "c", "mode": "UPSERT"})
    api.export("src", "k", "kodo", {"bucket": "b", "email": "a@b.c", "accessKey": "AK", "fields": {"u": "#user"}})
    pandora_emulator.deliver_exports()
    assert pandora_emulator.export_status("src", "m")["delivered"] == 2
    assert pandora_emulator.export_status("src", "k")["delivered"] == 2


# ---- the option, everywhere it is taken ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("127.0.0.1:8080", AllowEntry("127.0.0.1", 8080)),
        (" Sink.Example ", AllowEntry("sink.example", None)),
        ("[::1]:9000", AllowEntry("::1", 9000)),
        ("[::1]", AllowEntry("::1", None)),
        ("::1", AllowEntry("::1", None)),
        ("my_host.internal:1", AllowEntry("my_host.internal", 1)),
    ],
)
def test_parse_allow(text: str, entry: AllowEntry):
    assert parse_allow(text) == entry
    assert parse_allow(str(entry)) == entry


BAD_VALUES = {
    "": "an empty value",
    "http://sink:80": "without scheme or path",
    "sink:80/in": "without scheme or path",
    "sink:0": "from 1 to 65535",
    "sink:99999": "from 1 to 65535",
    "sink:http": "from 1 to 65535",
    "[::1:80": "in brackets",
    "a b": "not a host name",
    "-bad-.example": "not a host name",
}


@pytest.mark.parametrize(("value", "message"), BAD_VALUES.items())
def test_bad_values_are_refused_naming_the_flag(value: str, message: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([f"--export-allow={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --export-allow: " in err
    assert message in err
    with pytest.raises(ValueError, match=rf"^export_allow: .*{message}"):
        PandoraEmulator(export_allow=[value])


def test_the_flag_is_repeatable_and_defaults_to_nothing():
    assert build_parser().parse_args([]).export_allow == []
    args = build_parser().parse_args(["--export-allow", "127.0.0.1:8080", "--export-allow", "Sink.Example"])
    assert args.export_allow == ["127.0.0.1:8080", "sink.example"]


def test_cli_delivers_where_allowed_refuses_itself_and_logs_how_to_allow(tmp_path: Path, receiver: Receiver):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_pandora.emulator",
            "--port",
            "0",
            "--tick",
            "0.05",
            "--export-allow",
            receiver.address,
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split("=", 1)[1]
        api = Api(_Running(url))  # type: ignore[arg-type]
        _source(api)
        api.export("src", "ok", "http", {"host": receiver.address, "uri": "/in"})
        api.export("src", "boom", "http", {"host": url, "uri": "/_emulator/reset"})

        def status(name: str) -> dict[str, Any]:
            return requests.get(f"{url}/_emulator/exports/src/{name}", timeout=10).json()  # type: ignore[no-any-return]

        wait_for(lambda: status("ok")["delivered"] == 2 and status("boom")["state"] == "refused")
        assert api.get("/v2/repos/src").status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
    assert process.stderr is not None
    log = process.stderr.read()
    assert f"http exports may deliver to: {receiver.address}" in log
    refused = [line for line in log.splitlines() if "refused" in line]
    assert len(refused) == 1, log
    assert f"export 'boom' of repo 'src': delivery to {url}/_emulator/reset refused" in refused[0]
    assert b"".join(receiver.bodies) == b"user=a\thits=1\nuser=b\thits=2\n"


@dataclass
class _Running:
    """What :class:`Api` needs of an emulator started as a command."""

    url: str
    access_key: str = DEMO_ACCESS_KEY
    secret_key: str = DEMO_SECRET_KEY


PLUGIN_TEST = """
    def test_allowed(pandora_emulator, pandora_emulator_session):
        assert pandora_emulator.export_allow == {expected!r}
        assert pandora_emulator_session.export_allow == {expected!r}
"""


@pytest.mark.parametrize(
    ("ini", "args", "expected"),
    [
        ("", [], []),
        ("pandora_export_allow =\n    127.0.0.1:8080\n    Sink.Example", [], ["127.0.0.1:8080", "sink.example"]),
        ("pandora_export_allow = a:1", ["--pandora-export-allow", "b:2"], ["a:1", "b:2"]),
    ],
)
def test_pytest_plugin_takes_the_option_and_the_ini(tmp_path: Path, ini: str, args: list[str], expected: list[str]):
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    (tmp_path / "test_it.py").write_text(textwrap.dedent(PLUGIN_TEST.format(expected=expected)))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(tmp_path / "test_it.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pytest_plugin_refuses_a_bad_value_naming_the_option(tmp_path: Path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_it.py").write_text("def test_it(pandora_emulator):\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pandora-export-allow", "http://x:1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "--pandora-export-allow: 'http://x:1' is not HOST[:PORT]" in result.stdout + result.stderr
