"""A receiver that is not the bottleneck: Debian's nginx, answering 200 to every request once it has read the body.

Why nginx: it is written in C, reads request bodies with ``recv`` into a buffer and throws them away
(``return 200`` discards the body, reading it to the end so the connection can be kept alive), and its
two worker processes use both cores without a GIL. So its ceiling is set by the loopback and the CPU,
far above what one Python client or one curl connection pushes; :func:`ceiling` measures it in each run
(several curl connections at once) so the benchmark can show it. It checks no signature and no framing:
the emulator's own ``--sink`` does that and stays a row of its own (bench_emulator).

``make bench`` installs it (``apt-get install -y nginx-light``) when it is missing and the user is root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CONFIG = """
worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        client_body_buffer_size 4m;
        location / {{
            default_type application/json;
            return 200 '{{}}';
        }}
    }}
}}
"""


def nginx_binary() -> str:
    """The nginx executable; installs Debian's ``nginx-light`` when missing and allowed (root, apt-get)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=False, env=env, capture_output=True)
        if subprocess.run(["sh", "-c", "command -v nginx"], check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=True, env=env, capture_output=True)
        return shutil.which("nginx") or "/usr/sbin/nginx"
    raise RuntimeError("nginx is needed for the fast sink: apt-get install nginx-light (or nginx)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nginx_sink() -> Iterator[str]:
    """Run nginx on a free local port; yields its base URL."""
    binary = nginx_binary()
    with tempfile.TemporaryDirectory(prefix="pandora-bench-nginx-") as work:
        os.chmod(work, 0o777)
        port = _free_port()
        config = Path(work) / "nginx.conf"
        config.write_text(CONFIG.format(dir=work, port=port))
        process = subprocess.Popen([binary, "-p", work, "-c", str(config)], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        err = process.stderr.read().decode() if process.stderr else ""
                        raise RuntimeError(f"nginx did not start: {err[-500:]}") from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)


def curl_config(url: str, batch: Path, count: int, headers: dict[str, str], work: Path, name: str) -> Path:
    """A curl ``-K`` file posting ``batch`` ``count`` times, one after another, over one kept-alive connection."""
    lines = [f'url = "{url}"', f'data-binary = "@{batch}"']
    lines += [f'header = "{key}: {value}"' for key, value in headers.items()]
    lines += ['output = "/dev/null"', 'write-out = "%{http_code}\\n"']
    config = work / name
    config.write_text("next\n".join(["\n".join(lines) + "\n"] * count))
    return config


def run_curls(configs: list[Path], expected: int) -> dict[str, Any]:
    """Start one curl per config at once; wall seconds and the curls' CPU seconds (``os.wait4``'s rusage)."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(["curl", "-s", "-K", str(c)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for c in configs
    ]
    cpu = 0.0
    codes: list[str] = []
    for process in processes:
        assert process.stdout is not None
        codes += process.stdout.read().decode().split()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if process.returncode != 0:
            raise RuntimeError(f"curl failed with {process.returncode}")
    seconds = time.perf_counter() - started
    if codes != ["200"] * expected:
        raise RuntimeError(f"curl got {sorted(set(codes))}, expected {expected} x 200")
    return {"seconds": seconds, "cpu_s": cpu}


def blast(url: str, batch: Path, count: int) -> None:
    """Post ``batch`` ``count`` times over one kept-alive connection, the body by ``os.sendfile`` (no copy in
    user space): the cheapest client there is, to find the sink's own ceiling rather than a client's."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    size = batch.stat().st_size
    head = (
        f"POST /v2/repos/bench/data HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock, batch.open("rb") as body:
        reader = sock.makefile("rb")
        for _ in range(count):
            sock.sendall(head)
            sent = 0
            while sent < size:
                sent += os.sendfile(sock.fileno(), body.fileno(), sent, size - sent)
            status = reader.readline()
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"sink answered {status!r}")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)


def ceiling(url: str, batch: Path, count: int, connections: int = 2) -> dict[str, Any]:
    """The sink's ceiling: ``connections`` sendfile clients (own processes) at once; bytes/s over all."""
    import sys

    command = [sys.executable, "-m", "benchmarks._sinks", "blast", url, str(batch), str(count)]
    root = Path(__file__).resolve().parent.parent
    started = time.perf_counter()
    processes = [subprocess.Popen(command, cwd=root) for _ in range(connections)]
    if any(p.wait() != 0 for p in processes):
        raise RuntimeError("a sink ceiling client failed")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": batch.stat().st_size * count * connections, "connections": connections}


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["blast"]:
        blast(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
