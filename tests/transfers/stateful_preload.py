"""Imported once by the stateful suite's forkserver: imports and warms what every try needs, so a forked try
starts in milliseconds instead of re-importing Airflow's connection machinery, requests and boto3 each time."""

from __future__ import annotations

import contextlib
import json
import os

from tests.transfers import stateful_harness  # noqa: F401  (the operators and the child's entry point)


def _warm_up() -> None:
    from airflow_provider_pandora.hooks.pandora import PandoraHook

    os.environ["AIRFLOW_CONN_PANDORA_STATEFUL_WARMUP"] = json.dumps(
        {"conn_type": "pandora", "host": "http://127.0.0.1:9", "login": "warm-up", "password": "warm-up-secret"}
    )
    with contextlib.suppress(Exception):
        PandoraHook("pandora_stateful_warmup").get_conn()
    with contextlib.suppress(Exception):
        from airflow_provider_pandora.hooks.kodo import KodoHook

        os.environ["AIRFLOW_CONN_KODO_STATEFUL_WARMUP"] = json.dumps(
            {"conn_type": "kodo", "host": "http://127.0.0.1:9", "login": "warm-up", "password": "warm-up-secret"}
        )
        KodoHook("kodo_stateful_warmup").get_client()


_warm_up()
