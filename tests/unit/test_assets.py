"""The pandora:// and kodo:// URI schemes: normalising, refusing, factories, OpenLineage names, registration."""

from __future__ import annotations

import importlib
import warnings
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.providers.common.compat.assets import Asset

from airflow_provider_pandora.assets import (
    DEFAULT_ASSET_ENDPOINT,
    convert_kodo_asset_to_openlineage,
    convert_pandora_asset_to_openlineage,
    create_kodo_asset,
    create_pandora_asset,
    endpoint_authority,
    kodo_object_asset,
    pandora_repo_asset,
    parse_pandora_uri,
    sanitize_kodo_uri,
    sanitize_pandora_uri,
)
from airflow_provider_pandora.get_provider_info import get_provider_info
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS


@pytest.mark.parametrize(
    ("uri", "normalised"),
    [
        ("pandora://pipeline.qiniu.com/clicks", "pandora://pipeline.qiniu.com/clicks"),
        ("pandora://Pipeline.Qiniu.COM:443/clicks", "pandora://pipeline.qiniu.com/clicks"),
        ("pandora://pipeline.qiniu.com:80/clicks", "pandora://pipeline.qiniu.com/clicks"),
        ("pandora://127.0.0.1:8480/clicks", "pandora://127.0.0.1:8480/clicks"),
        ("pandora://127.0.0.1:8480/1380012345/clicks", "pandora://127.0.0.1:8480/1380012345/clicks"),
        ("pandora://[::1]:8480/_c9", "pandora://[::1]:8480/_c9"),
    ],
)
def test_sanitize_normalises(uri: str, normalised: str) -> None:
    assert sanitize_pandora_uri(urlsplit(uri)).geturl() == normalised


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("pandora:///clicks", "must name the endpoint host"),
        ("pandora://h", "must have the path /<repo> or /<account>/<repo>"),
        ("pandora://h/a/b/c", "must have the path /<repo> or /<account>/<repo>"),
        ("pandora://h/1clicks", "is not a Pandora repo name"),
        ("pandora://h/clicks-x", "is not a Pandora repo name"),
        ("pandora://h/acc.ount/clicks", "account 'acc.ount' must be"),
        ("pandora://AKxyz@h/clicks", "carries no user info (never the access key)"),
        ("pandora://h:0/clicks", "port between 1 and 65535"),
        ("pandora://h:99999/clicks", "port between 1 and 65535"),
        ("pandora://h/clicks?region=nb", "takes no query or fragment"),
        ("pandora://bad_host!/clicks", "is not a host[:port]"),
    ],
)
def test_sanitize_refuses_malformed_uris_saying_why(uri: str, problem: str) -> None:
    with pytest.raises(ValueError, match="pandora URI") as err:
        sanitize_pandora_uri(urlsplit(uri))
    assert problem in str(err.value)


def test_airflow_applies_the_registered_normaliser() -> None:
    assert Asset("pandora://PIPELINE.qiniu.com:443/clicks").uri == "pandora://pipeline.qiniu.com/clicks"
    if AIRFLOW_V_3_0_PLUS:
        with pytest.raises(ValueError, match="must have the path"):
            Asset("pandora://pipeline.qiniu.com/a/b/c")
    else:  # Airflow 2.11 warns, unless [core] strict_dataset_uri_validation
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Asset("pandora://pipeline.qiniu.com/a/b/c")
        assert any("must have the path" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("endpoint", "authority"),
    [
        ("https://pipeline.qiniu.com", "pipeline.qiniu.com"),
        ("https://pipeline.qiniu.com/", "pipeline.qiniu.com"),
        ("http://127.0.0.1:8480", "127.0.0.1:8480"),
        ("NB-Pipeline.qiniuapi.com:443", "nb-pipeline.qiniuapi.com"),
        ("localhost", "localhost"),
    ],
)
def test_endpoint_authority(endpoint: str, authority: str) -> None:
    assert endpoint_authority(endpoint) == authority


@pytest.mark.parametrize("endpoint", ["", "https://ak:sk@h", "https://h/v2", "https://h?x=1"])
def test_endpoint_authority_refuses(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        endpoint_authority(endpoint)


def test_repo_asset_defaults_to_the_public_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__PANDORA__ASSET_ENDPOINT", raising=False)
    monkeypatch.delenv("AIRFLOW__PANDORA__ASSET_ACCOUNT", raising=False)
    assert DEFAULT_ASSET_ENDPOINT == "https://pipeline.qiniu.com"
    assert pandora_repo_asset("clicks").uri == "pandora://pipeline.qiniu.com/clicks"


def test_repo_asset_reads_the_deployment_config_then_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PANDORA__ASSET_ENDPOINT", "http://127.0.0.1:8480")
    monkeypatch.setenv("AIRFLOW__PANDORA__ASSET_ACCOUNT", "1380012345")
    assert pandora_repo_asset("clicks").uri == "pandora://127.0.0.1:8480/1380012345/clicks"
    assert pandora_repo_asset("clicks", endpoint="https://p.example.com", account="").uri == (
        "pandora://p.example.com/clicks"
    )
    # the same repo written by the producer and named by the consumer is one asset
    assert pandora_repo_asset("clicks") == pandora_repo_asset("clicks")


def test_repo_asset_refuses_a_templated_repo_pointing_to_aliases() -> None:
    with pytest.raises(ValueError, match="use an AssetAlias outlet"):
        pandora_repo_asset("{{ params.prefix }}_clicks")


def test_factory_and_parse_round_trip() -> None:
    asset = create_pandora_asset(endpoint="http://127.0.0.1:8480", repo="clicks", account="acme")
    assert asset.uri == "pandora://127.0.0.1:8480/acme/clicks"
    assert parse_pandora_uri(asset.uri) == ("127.0.0.1:8480", "acme", "clicks")
    assert parse_pandora_uri("pandora://h/clicks") == ("h", None, "clicks")


def test_openlineage_names_split_the_uri() -> None:
    plain = convert_pandora_asset_to_openlineage(Asset("pandora://pipeline.qiniu.com/clicks"), None)
    assert (plain.namespace, plain.name) == ("pandora://pipeline.qiniu.com", "clicks")
    with_account = convert_pandora_asset_to_openlineage(Asset("pandora://127.0.0.1:8480/acme/clicks"), None)
    assert (with_account.namespace, with_account.name) == ("pandora://127.0.0.1:8480", "acme/clicks")


def test_kodo_scheme() -> None:
    asset = kodo_object_asset("exports", "clicks/2024/part-0.jsonl")
    assert asset.uri == "kodo://exports/clicks/2024/part-0.jsonl"
    assert create_kodo_asset(bucket="exports").uri == "kodo://exports/"
    dataset = convert_kodo_asset_to_openlineage(asset, None)
    assert (dataset.namespace, dataset.name) == ("kodo://exports", "clicks/2024/part-0.jsonl")
    whole = convert_kodo_asset_to_openlineage(Asset("kodo://exports"), None)
    assert (whole.namespace, whole.name) == ("kodo://exports", "/")
    for bad in ("kodo:///key", "kodo://ak@bucket/key", "kodo://bucket:9000/key", "kodo://bucket/k?x=1"):
        with pytest.raises(ValueError, match="kodo URI"):
            sanitize_kodo_uri(urlsplit(bad))


@pytest.mark.parametrize("key", ["asset-uris", "dataset-uris"])
def test_registered_on_both_airflow_lines(key: str) -> None:
    entries = {tuple(e["schemes"]): e for e in get_provider_info()[key]}
    assert set(entries) == {("pandora",), ("kodo",)}
    for entry in entries.values():
        for role in ("handler", "factory", "to_openlineage_converter"):
            module, _, name = entry[role].rpartition(".")
            assert callable(getattr(importlib.import_module(module), name)), entry[role]


def test_the_providers_manager_knows_the_schemes() -> None:
    try:  # Airflow 3.2+: the task SDK's own registry
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        manager: Any = ProvidersManagerTaskRuntime()
    except ImportError:  # Airflow 3.0, 3.1 and 2.11
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
    if AIRFLOW_V_3_0_PLUS:
        handlers, factories = manager.asset_uri_handlers, manager.asset_factories
    else:
        handlers, factories = manager.dataset_uri_handlers, manager.dataset_factories
    assert handlers["pandora"] is sanitize_pandora_uri
    assert handlers["kodo"] is sanitize_kodo_uri
    assert factories["pandora"] is create_pandora_asset
