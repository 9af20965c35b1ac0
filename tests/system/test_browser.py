"""The connection form, the "Pandora console" link and the asset graph as a user sees them: Debian's chromium on
the Airflow 3 UI.

Playwright drives the system ``chromium`` through ``executable_path`` (its own browser download is not needed).
Each step saves a screenshot under ``test-output/browser/`` (the asset graphs also under ``test-output/system/``); a
failing step also saves one and prints the page text. The connection saved through the form is the one the
``system_console_link`` DAG then runs with, so the link followed at the end went form -> extras -> task -> XCom -> UI.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.system.deployment import ADMIN_PASSWORD, CANARY_AK, CANARY_SK, ROOT, Deployment, wait_for
from tests.system.support import assert_runs_succeeded, serve

airflow_version = pytest.importorskip("airflow.version").version
if not airflow_version.startswith("3."):
    pytest.skip("the browser check drives the Airflow 3 UI", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = ROOT / "test-output" / "browser"
CONN_ID = "pandora_console"  # what tests/system/dags/system_console_link.py runs with
TIMEOUT_MS = 60_000  # a React UI on a loaded 2-core machine
sync_api.expect.set_options(timeout=TIMEOUT_MS)


def _pandora_form() -> dict[str, Any]:
    """What the provider declares: the hook's field behaviour and the provider dict's extras."""
    from airflow_provider_pandora.get_provider_info import get_provider_info
    from airflow_provider_pandora.hooks.pandora import PandoraHook

    behaviour = PandoraHook.get_ui_field_behaviour()
    (conn,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "pandora"]
    return {"behaviour": behaviour, "fields": conn["conn-fields"], "hook_name": conn["hook-name"]}


class _Console(BaseHTTPRequestHandler):
    """Stands in for the Pandora console: any GET answers a page naming the path it was asked for."""

    def do_GET(self) -> None:
        body = f"<html><title>console stub</title><body><h1>console stub</h1><p id=path>{self.path}</p></body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def console() -> Iterator[str]:
    with serve(_Console) as url:
        yield f"{url}/console"


class Browser:
    """One chromium page plus numbered screenshots; :meth:`step` records a failing step's page."""

    def __init__(self, page: Any, out: Path) -> None:
        self.page = page
        self.out = out
        self.count = 0

    @contextlib.contextmanager
    def step(self, name: str, page: Any = None) -> Iterator[Any]:
        page = page or self.page
        self.count += 1
        shot = self.out / f"{self.count:02d}-{name}"
        try:
            yield page
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=f"{shot}-FAILED.png", full_page=True)
            with contextlib.suppress(Exception):
                print(f"----- page text at the failed step {name!r} ({page.url}) -----\n{page.inner_text('body')}")
            raise
        page.screenshot(path=f"{shot}.png", full_page=True)


@pytest.fixture(scope="module")
def browser(deployment: Deployment) -> Iterator[Browser]:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield Browser(context.new_page(), OUT)
        finally:
            context.close()
            chromium.close()


def _field(scope: Any, label: str) -> Any:
    """The input of the form field labelled ``label``.

    Airflow 3.3's form ties the ``<label for>`` of string extras to the wrong id, so ``get_by_label`` misses
    them; the field's group (its label plus its input) is found by the label's text instead.
    """
    text = re.compile(rf"^\s*{re.escape(label)}\s*$")
    label_locator = scope.page.locator("label", has_text=text)
    return scope.get_by_role("group").filter(has=label_locator).locator("input, textarea").first


def _login(b: Browser, dep: Deployment) -> None:
    with b.step("login") as page:
        page.goto(f"{dep.api}/", wait_until="domcontentloaded")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Admin").or_(page.get_by_role("button", name="Admin")).first.wait_for()


def test_pandora_connection_form(deployment: Deployment, browser: Browser, console: str) -> None:
    dep, b, expected = deployment, browser, _pandora_form()
    relabel = expected["behaviour"]["relabeling"]
    placeholders = expected["behaviour"]["placeholders"]
    _login(b, dep)

    with b.step("add-connection-pandora") as page:
        page.goto(f"{dep.api}/connections", wait_until="domcontentloaded")
        page.get_by_role("button", name="Add Connection").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("combobox").fill("pandora")
        page.get_by_role("option", name=expected["hook_name"]).click()
        sync_api.expect(dialog.get_by_text("Standard Fields", exact=True)).to_be_visible()
        for name in ("host", "login", "password"):
            sync_api.expect(dialog.locator("label", has_text=relabel[name])).to_be_visible()
            sync_api.expect(_field(dialog, relabel[name])).to_have_attribute("placeholder", placeholders[name])
        hidden_labels = [name.capitalize() for name in expected["behaviour"]["hidden_fields"]]
        for hidden in [*hidden_labels, "Host", "Login", "Password"]:  # hidden, or relabelled away
            assert _field(dialog, hidden).count() == 0, f"the form still shows {hidden!r}"

    with b.step("extra-fields") as page:
        dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        for spec in expected["fields"].values():
            sync_api.expect(dialog.locator("label", has_text=spec["label"]).first).to_be_visible()
            sync_api.expect(dialog.get_by_text(spec["description"], exact=True)).to_be_visible()
        # no default: a short value such as "nb" made Airflow 3's masker warn in every task log (issue 20 item 7a)
        assert _field(dialog, expected["fields"]["region"]["label"]).input_value() == ""

    with b.step("filled") as page:
        dialog.get_by_label("Connection ID").fill(CONN_ID)
        _field(dialog, expected["fields"]["console_url"]["label"]).fill(console)
        _field(dialog, expected["fields"]["timeout"]["label"]).fill("20")
        dialog.get_by_role("button", name="Standard Fields", exact=True).click()
        _field(dialog, relabel["host"]).fill(dep.emulator_url)
        _field(dialog, relabel["login"]).fill(CANARY_AK)
        _field(dialog, relabel["password"]).fill(CANARY_SK)
        sync_api.expect(_field(dialog, relabel["password"])).to_have_attribute("type", "password")

    with b.step("saved") as page:
        dialog.get_by_role("button", name="Save").click()
        sync_api.expect(page.get_by_role("row").filter(has_text=CONN_ID)).to_be_visible()
    saved = dep.get(f"/connections/{CONN_ID}")
    assert (saved["conn_type"], saved["login"], saved["password"]) == ("pandora", CANARY_AK, "***"), saved
    extra = json.loads(saved["extra"])
    assert (extra["console_url"], extra["timeout"], extra.get("region") or None) == (console, 20, None), extra

    with b.step("edit-secret-masked") as page:
        page.reload(wait_until="domcontentloaded")
        page.get_by_role("row").filter(has_text=CONN_ID).get_by_role("button", name="Edit Connection").click()
        dialog = page.get_by_role("dialog")
        secret = _field(dialog, relabel["password"])
        sync_api.expect(secret).to_have_attribute("type", "password")
        sync_api.expect(secret).to_have_value("***")
        sync_api.expect(_field(dialog, relabel["login"])).to_have_value(CANARY_AK)
        assert CANARY_SK not in page.content()


def test_console_extra_link(deployment: Deployment, browser: Browser, console: str) -> None:
    dep, b = deployment, browser
    if dep.request("GET", f"/connections/{CONN_ID}").status_code != 200:
        pytest.skip(f"needs the {CONN_ID} connection saved by test_pandora_connection_form")
    dep.wait_dags({"system_console_link"})
    run_id = dep.trigger("system_console_link", {"prefix": "browser"})
    dep.wait_run("system_console_link", run_id, timeout=300)
    assert_runs_succeeded(dep, {"system_console_link": run_id})
    expected = f"{console}/repos/browser_src/jobs/browser_job"
    api_links = dep.get(f"/dags/system_console_link/dagRuns/{run_id}/taskInstances/run_job/links")
    assert api_links["extra_links"] == {"Pandora console": expected}, api_links
    (ti,) = [t for t in dep.task_instances("system_console_link", run_id) if t["task_id"] == "run_job"]
    assert "defer" in dep.task_log(ti, ti["try_number"]).lower(), "run_job never deferred"

    with b.step("task-instance") as page:
        run = urllib.parse.quote(run_id, safe="")
        page.goto(f"{dep.api}/dags/system_console_link/runs/{run}/tasks/run_job", wait_until="domcontentloaded")
        page.get_by_role("link", name="Details", exact=True).click()
        link = page.get_by_role("link", name="Pandora console")
        sync_api.expect(link).to_have_attribute("href", expected)

    with page.context.expect_page() as opened:
        link.click()
    with b.step("console", opened.value) as console_page:
        console_page.wait_for_load_state()
        assert console_page.url == expected
        sync_api.expect(console_page.locator("#path")).to_have_text("/console/repos/browser_src/jobs/browser_job")


# what each Pandora asset links in the Airflow 3 UI's asset graph: the DAG writing it -> the asset -> the DAG
# scheduled on it (example_dags/example_pandora_assets.py: a push; tests/system/dags/system_pandora_asset_transfer.py:
# a transfer), and the screenshot kept of it
ASSET_GRAPHS = {
    "assets_clicks": ("example_pandora_assets_producer", "example_pandora_assets_consumer", "asset-graph.png"),
    "sys_asset_loaded": (
        "system_pandora_asset_transfer",
        "system_pandora_asset_downstream",
        "asset-graph-transfer.png",
    ),
}
SYSTEM_OUT = ROOT / "test-output" / "system"


def test_asset_graph_links_the_dags(deployment: Deployment, browser: Browser) -> None:
    """The asset page of each ``pandora://`` repo draws the repo, the DAG whose task writes it and the DAG scheduled
    on it, linked in that order. The graph comes from the parsed DAGs (outlets and schedules), not from runs."""
    dep, b = deployment, browser
    dep.wait_dags({dag for producer, consumer, _ in ASSET_GRAPHS.values() for dag in (producer, consumer)})
    SYSTEM_OUT.mkdir(parents=True, exist_ok=True)
    if not b.page.url.startswith(dep.api):
        _login(b, dep)
    for repo, (producer, consumer, shot) in ASSET_GRAPHS.items():
        uri = f"pandora://{urllib.parse.urlsplit(dep.emulator_url).netloc}/{repo}"

        def linked(uri: str = uri, repo: str = repo) -> dict[str, Any] | None:
            found = [a for a in dep.get("/assets", uri_pattern=repo)["assets"] if a["uri"] == uri]
            return found[0] if found and found[0]["producing_tasks"] and found[0]["scheduled_dags"] else None

        asset = wait_for(f"the DAG processor to register {uri} with its producer and consumer", linked, 120)
        node = f"asset:{asset['id']}"
        with b.step(f"asset-graph-{repo}") as page:
            page.goto(f"{dep.api}/assets/{asset['id']}", wait_until="domcontentloaded")
            for node_id, text in ((node, uri), (f"dag:{producer}", producer), (f"dag:{consumer}", consumer)):
                sync_api.expect(page.get_by_test_id(f"rf__node-{node_id}")).to_contain_text(text)
            for source, target in ((f"dag:{producer}", node), (node, f"dag:{consumer}")):
                sync_api.expect(page.get_by_test_id(f"rf__edge-{source}-{target}")).to_have_count(1)
            page.screenshot(path=str(SYSTEM_OUT / shot), full_page=True)
        print(f"asset graph of {uri}: {producer} -> {node} -> {consumer}; screenshot {SYSTEM_OUT / shot}")
