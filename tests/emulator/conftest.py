"""A small signed HTTP client for the emulator tests (plain ``requests``, so the wire is what the test says)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks._transport import PandoraAuth
from tests.common import CONTAINER, SCHEMA


class Api:
    """Signed calls to one emulator: ``api.post("/v2/groups/g", {...})`` -> ``requests.Response``."""

    def __init__(self, emulator: PandoraEmulator) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.auth = PandoraAuth(emulator.access_key, emulator.secret_key)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        send_headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            send_headers.setdefault("Content-Type", "application/json")
        return self.session.request(
            method, self.emulator.url + path, data=data, headers=send_headers, params=params, timeout=30
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def push(self, repo: str, text: bytes | str, **headers: str) -> requests.Response:
        data = text.encode() if isinstance(text, str) else text
        return self.call("POST", f"/v2/repos/{repo}/data", data=data, headers={"Content-Type": "text/plain", **headers})

    # ---- setup shortcuts that must succeed ----------------------------------------------------------
    def ok(self, response: requests.Response) -> Any:
        assert response.status_code == 200, response.text
        assert response.headers["X-Reqid"]
        return response.json()

    def group(self, name: str, **body: Any) -> Any:
        return self.ok(self.post(f"/v2/groups/{name}", {"region": "nb", "container": CONTAINER, **body}))

    def repo(self, name: str, schema: Any = None, **body: Any) -> Any:
        return self.ok(self.post(f"/v2/repos/{name}", {"region": "nb", "schema": schema or SCHEMA, **body}))

    def transform(self, repo: str, name: str, dest: str, code: str, **body: Any) -> Any:
        return self.ok(
            self.post(f"/v2/repos/{repo}/transforms/{name}/to/{dest}", {"mode": "sql", "code": code, **body})
        )

    def export(self, repo: str, name: str, etype: str, spec: dict[str, Any], **body: Any) -> Any:
        return self.ok(self.post(f"/v2/repos/{repo}/exports/{name}", {"type": etype, "spec": spec, **body}))

    def job(self, repo: str, name: str, dest: str, code: str, **body: Any) -> Any:
        payload = {"code": code, "container": CONTAINER, "scheduler": {"type": "once"}, **body}
        return self.ok(self.post(f"/v2/repos/{repo}/jobs/{name}/to/{dest}", payload))


def error_code(response: requests.Response) -> str:
    """The ``Exxxxx`` of an error answer, checking the error contract on the way."""
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Reqid"]
    text = response.json()["error"]
    code, sep, message = text.partition(": ")
    assert sep, text
    assert message, text
    return str(code)


@pytest.fixture
def api(pandora_emulator: PandoraEmulator) -> Iterator[Api]:
    client = Api(pandora_emulator)
    yield client
    client.session.close()
