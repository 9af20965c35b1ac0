"""triggers/events.py: PandoraJobRunEventTrigger fires once per new run of a job the emulator schedules itself.

The trigger's ``run()`` is driven against the real emulator over HTTP; the emulator's clock is a fake one, so a
``loop`` job runs exactly when a test moves the clock past its interval.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.triggers.events import PandoraJobRunEventTrigger
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS

airflow3 = pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="AssetWatcher and BaseEventTrigger are Airflow 3.0+")

LOOP = 600.0  # the job's loop interval, in (fake) seconds
POLL = 0.05


class Clock:
    """The emulator's clock: a loop job runs when a test moves it past the interval."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 0, 0, 30, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


class Pandora:
    """An emulator with a repo ``src`` and a fake clock; helpers to create the loop job and make it run."""

    def __init__(self, emulator: PandoraEmulator, clock: Clock) -> None:
        self.emulator = emulator
        self.clock = clock
        self.hook = PandoraHook()

    def history(self, job: str = "every") -> list[Any]:
        return self.hook.get_job_history("src", job, size=100)

    def submit(self, job: str = "every") -> None:
        """A loop job: it runs once at once, then once per LOOP seconds of the fake clock."""
        self.hook.submit_job(
            "src",
            job,
            f"{job}_out",
            code="select user from src",
            container={"type": "M16C4", "count": 1},
            scheduler={"type": "loop", "loop": "10m"},
        )
        self.wait_runs(1, job)

    def wait_runs(self, count: int, job: str = "every") -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = self.history(job)
            if len(runs) >= count and all(r.status.is_terminal for r in runs):
                return
            time.sleep(0.02)
        raise AssertionError(f"job {job} did not reach {count} ended runs: {self.history(job)}")

    def next_run(self, job: str = "every") -> None:
        """Move the clock one loop on and wait for the run it starts to end."""
        count = len(self.history(job))
        self.clock.now += LOOP + 1
        self.wait_runs(count + 1, job)

    def run_ids(self, job: str = "every") -> list[int]:
        return sorted(r.run_id for r in self.history(job))


@pytest.fixture
def pandora(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pandora]:
    clock = Clock()
    with PandoraEmulator(clock=clock, tick=0.02) as emulator:
        # One attempt per call: a fault is seen by the trigger's poll, not hidden by the hook's retries.
        monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", emulator.connection_json(retry_limit=1, retry_delay=0))
        hook = PandoraHook()
        hook.create_repo("src", schema=[{"key": "user", "valtype": "string"}])
        hook.push_data("src", [{"user": "a"}])
        yield Pandora(emulator, clock)


class Watcher:
    """Drives one trigger's ``run()`` as the triggerer does: the next event, or none within a time."""

    def __init__(self, trigger: PandoraJobRunEventTrigger) -> None:
        self.trigger = trigger
        self.gen = cast(AsyncGenerator[Any, None], trigger.run())
        self.pending: asyncio.Future[Any] | None = None

    async def started(self) -> None:
        """Start ``run()`` and wait until it has taken its watermark."""
        self.pending = asyncio.ensure_future(self.gen.__anext__())
        await until(lambda: self.trigger.watermark is not None)

    async def next(self, within: float = 20) -> dict[str, Any]:
        pending, self.pending = self.pending or asyncio.ensure_future(self.gen.__anext__()), None
        event = await asyncio.wait_for(pending, within)
        return dict(event.payload)

    async def nothing(self, seconds: float = 0.5) -> None:
        """No event comes within ``seconds`` (the watcher keeps polling meanwhile)."""
        self.pending = self.pending or asyncio.ensure_future(self.gen.__anext__())
        done, _ = await asyncio.wait({self.pending}, timeout=seconds)
        assert not done, f"unexpected event {self.pending.result().payload if done else None}"

    async def stop(self) -> None:
        """What the triggerer does to a trigger it drops (a restart, a SIGKILL ends it without even this)."""
        if self.pending is not None:
            self.pending.cancel()
            await asyncio.gather(self.pending, return_exceptions=True)
        await self.gen.aclose()


async def until(predicate: Callable[[], Any], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Drive the emulator from a thread, so the watcher's loop keeps running meanwhile."""
    return await asyncio.to_thread(fn, *args)


class Store:
    """Stands in for Airflow 3.3's asset state store (one asset); ``down`` makes writes fail."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.down = False

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        if self.down:
            raise ConnectionError("the API server does not answer")
        self.values[key] = json.loads(json.dumps(value))  # what the API would store: JSON


class Logs:
    """Records the trigger's log lines (Airflow 3 logs through structlog, Airflow 2 through logging)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _record(self, level: str) -> Callable[..., None]:
        return lambda msg, *args, **_: self.lines.append((level, msg % args if args else msg))

    def __getattr__(self, level: str) -> Callable[..., None]:
        return self._record(level)

    def at(self, level: str, text: str) -> list[str]:
        return [line for lvl, line in self.lines if lvl == level and text in line]


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Logs:
    recorder = Logs()
    monkeypatch.setattr(PandoraJobRunEventTrigger, "log", recorder)
    return recorder


def trigger(**kwargs: Any) -> PandoraJobRunEventTrigger:
    kwargs.setdefault("poll_interval", POLL)
    return PandoraJobRunEventTrigger("src", kwargs.pop("job", "every"), **kwargs)


# ---- identity ------------------------------------------------------------------------------------------
@airflow3
def test_serialize_round_trip_and_a_hash_that_never_changes(pandora: Pandora) -> None:
    """The watcher's row is found again by its hash: the kwargs hold no watermark and no time."""
    from airflow.triggers.base import BaseEventTrigger

    first = PandoraJobRunEventTrigger("src", "every", pandora_conn_id="pandora_default", poll_interval=30)
    classpath, kwargs = first.serialize()
    assert classpath == "airflow_provider_pandora.triggers.events.PandoraJobRunEventTrigger"
    assert kwargs == {
        "repo": "src",
        "job": "every",
        "pandora_conn_id": "pandora_default",
        "poll_interval": 30.0,
        "statuses": ["Success"],
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = PandoraJobRunEventTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    # The same watcher spelled another way, or after it ran and took its watermark, hashes the same.
    spelled = PandoraJobRunEventTrigger("src", "every", poll_interval=30.0, statuses=("success", "SUCCESS"))

    async def take_watermark() -> None:
        watcher = Watcher(rebuilt)
        await watcher.started()
        await watcher.stop()

    asyncio.run(take_watermark())
    assert rebuilt.watermark is not None
    hashes = {BaseEventTrigger.hash(*t.serialize()) for t in (first, rebuilt, spelled)}
    assert len(hashes) == 1
    other = PandoraJobRunEventTrigger("src", "every", poll_interval=30, statuses=["Success", "Fail"])
    assert BaseEventTrigger.hash(*other.serialize()) not in hashes


@airflow3
def test_statuses_must_name_ended_runs() -> None:
    with pytest.raises(ValueError, match="statuses must name ended runs"):
        PandoraJobRunEventTrigger("src", "every", statuses=["Running"])
    with pytest.raises(ValueError, match="unknown job status"):
        PandoraJobRunEventTrigger("src", "every", statuses=["Done"])
    with pytest.raises(ValueError, match="poll_interval"):
        PandoraJobRunEventTrigger("src", "every", poll_interval=0)
    assert PandoraJobRunEventTrigger("src", "j", statuses="fail").statuses == ["Fail"]


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="the refusal is Airflow 2's")
def test_airflow2_imports_it_and_refuses_to_build_it() -> None:
    with pytest.raises(RuntimeError, match=r"needs Airflow 3\.0 or later .* this is Airflow 2\.11"):
        PandoraJobRunEventTrigger("src", "every")


# ---- what fires ----------------------------------------------------------------------------------------
@airflow3
def test_fires_for_each_new_run_only_with_its_record(pandora: Pandora) -> None:
    """Runs that ended before the watcher started never fire; each later one fires once, carrying its record."""
    pandora.submit()
    pandora.next_run()
    assert len(pandora.history()) == 2

    async def scenario() -> list[dict[str, Any]]:
        watcher = Watcher(trigger())
        await watcher.started()
        await watcher.nothing()
        await blocking(pandora.next_run)
        first = await watcher.next()
        await watcher.nothing()
        await blocking(pandora.next_run)
        second = await watcher.next()
        await watcher.nothing()
        await watcher.stop()
        return [first, second]

    events = asyncio.run(scenario())
    newest = {r.run_id: r for r in pandora.history()}
    assert [e["run"]["run_id"] for e in events] == pandora.run_ids()[2:]
    run = newest[events[0]["run"]["run_id"]]
    assert events[0] == {
        "repo": "src",
        "job": "every",
        "status": "Success",
        "run": {
            "run_id": run.run_id,
            "status": "Success",
            "start_time": run.start_time.isoformat(),
            "end_time": run.end_time.isoformat(),
            "message": run.message,
        },
    }
    assert pandora.emulator.secret_key not in json.dumps(events)


@airflow3
def test_several_runs_between_two_polls_fire_in_order_across_history_pages(
    pandora: Pandora, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs that ended while the watcher slept all fire, oldest first, even when they span several pages."""
    monkeypatch.setattr(PandoraJobRunEventTrigger, "history_page_size", 2)
    pages: list[int] = []
    real = PandoraHook.aget_job_history

    async def spy(self: PandoraHook, repo: str, job: str, *, page: int = 1, size: int = 20) -> Any:
        pages.append(page)
        return await real(self, repo, job, page=page, size=size)

    monkeypatch.setattr(PandoraHook, "aget_job_history", spy)
    pandora.submit()

    async def scenario() -> list[dict[str, Any]]:
        watcher = Watcher(trigger(poll_interval=1.0))
        await watcher.started()
        await blocking(pandora.next_run)
        events = [await watcher.next()]
        # The watcher is paused after its event (then sleeps a second): five runs end before its next look.
        for _ in range(5):
            await blocking(pandora.next_run)
        events += [await watcher.next() for _ in range(5)]
        await watcher.nothing(1.5)
        await watcher.stop()
        return events

    events = asyncio.run(scenario())
    assert [e["run"]["run_id"] for e in events] == pandora.run_ids()[1:]
    assert max(pages) == 3, "five new runs, two per page: the watcher read on until it met a run it had seen"


@airflow3
def test_transient_errors_do_not_end_the_watcher(pandora: Pandora, logs: Logs) -> None:
    """More 503s in a row than any wait tolerates: the watcher logs them and fires the run once they stop."""
    pandora.submit()

    async def scenario() -> dict[str, Any]:
        watcher = Watcher(trigger())
        await watcher.started()
        pandora.emulator.add_fault("error", method="GET", path="/v2/repos/src/jobs/every/history", status=503, count=12)
        pandora.clock.now += LOOP + 1  # the run starts; only the watcher asks for the history (and meets the 503s)
        event = await watcher.next()
        await watcher.stop()
        return event

    event = asyncio.run(scenario())
    assert event["run"]["run_id"] == pandora.run_ids()[-1]
    assert len(logs.at("warning", "transient error polling job 'every' of repo 'src'")) == 12
    assert logs.at("info", "answers again after 12 failed polls")
    assert pandora.emulator.secret_key not in str(logs.lines)


@airflow3
def test_a_job_created_after_the_watcher_fires_from_its_first_run(pandora: Pandora, logs: Logs) -> None:
    """A missing job is an error logged once (not a dead watcher); once created, its very first run fires."""

    async def scenario() -> dict[str, Any]:
        watcher = Watcher(trigger(job="later"))
        await watcher.started()
        await watcher.nothing()
        await blocking(pandora.submit, "later")
        event = await watcher.next()
        await watcher.stop()
        return event

    event = asyncio.run(scenario())
    assert event["job"] == "later"
    assert event["run"]["run_id"] == pandora.run_ids("later")[0]
    errors = logs.at("error", "still polling every 0.05s: E18606")
    assert len(errors) == 1, "logged the first time, then every ERROR_LOG_EVERY polls"
    assert "job 'later' of repo 'src'" in errors[0]
    assert pandora.emulator.secret_key not in str(logs.lines)


# ---- restarts --------------------------------------------------------------------------------------------
@airflow3
def test_restart_without_a_state_store_fires_nothing_twice_and_misses_the_runs_of_the_downtime(
    pandora: Pandora,
) -> None:
    """Airflow 3.0-3.2: a new trigger takes its watermark from the history: at most once."""
    pandora.submit()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        before = Watcher(trigger())
        await before.started()
        await blocking(pandora.next_run)
        fired_before = [await before.next()]
        await before.stop()  # the triggerer is gone
        await blocking(pandora.next_run)  # ends while no triggerer runs
        after = Watcher(trigger())
        await after.started()
        await after.nothing()
        await blocking(pandora.next_run)
        fired_after = [await after.next()]
        await after.nothing()
        await after.stop()
        return fired_before, fired_after

    fired_before, fired_after = asyncio.run(scenario())
    ids = pandora.run_ids()
    assert [e["run"]["run_id"] for e in fired_before] == [ids[1]]
    assert [e["run"]["run_id"] for e in fired_after] == [ids[3]]  # ids[2] ended during the downtime: missed


@airflow3
def test_restart_with_the_asset_state_store_fires_the_runs_of_the_downtime_once(pandora: Pandora) -> None:
    """Airflow 3.3+: the watermark is stored before each event, so a new trigger goes on where the last one fired."""
    pandora.submit()
    store = Store()

    def watched() -> PandoraJobRunEventTrigger:
        t = trigger()
        t.asset_state_store = store  # what the 3.3 triggerer injects
        return t

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        before = Watcher(watched())
        await before.started()
        await blocking(pandora.next_run)
        fired_before = [await before.next()]
        await before.stop()
        await blocking(pandora.next_run)
        await blocking(pandora.next_run)
        after = Watcher(watched())
        fired_after = [await after.next(), await after.next()]
        await after.nothing()
        await after.stop()
        return fired_before, fired_after

    fired_before, fired_after = asyncio.run(scenario())
    ids = pandora.run_ids()
    assert [e["run"]["run_id"] for e in fired_before] == [ids[1]]
    assert [e["run"]["run_id"] for e in fired_after] == ids[2:]
    stored = store.values["pandora_job_runs:pandora_default:src:every"]
    assert stored["keys"] == [f"id:{ids[-1]}"]


@airflow3
def test_a_run_is_not_fired_before_its_watermark_is_stored(pandora: Pandora) -> None:
    """While the state store refuses writes nothing fires (a restart then could fire it again); then it fires once."""
    pandora.submit()
    store = Store()
    watched = trigger()
    watched.asset_state_store = store

    async def scenario() -> list[dict[str, Any]]:
        watcher = Watcher(watched)
        await watcher.started()
        store.down = True
        await blocking(pandora.next_run)
        await watcher.nothing(0.5)
        store.down = False
        events = [await watcher.next()]
        await watcher.nothing()
        await watcher.stop()
        return events

    events = asyncio.run(scenario())
    assert [e["run"]["run_id"] for e in events] == pandora.run_ids()[1:]
