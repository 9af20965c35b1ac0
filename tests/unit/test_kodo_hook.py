"""KodoHook without a server: what a ``kodo`` connection means, the client it builds, the missing-extra error."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowOptionalProviderFeatureException

from airflow_provider_pandora.exceptions import KodoError, PandoraValidationError
from airflow_provider_pandora.get_provider_info import _kodo_connection
from airflow_provider_pandora.hooks.kodo import KodoConnectionConfig, KodoHook, region_from_host

SECRET = "SK-kodo-recognisable-5d1c9e"


def _hook(monkeypatch: pytest.MonkeyPatch, conn_id: str = "kodo_unit", **conn: Any) -> KodoHook:
    payload = {"conn_type": "kodo", "login": "AK-visible", "password": SECRET, **conn}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))
    return KodoHook(conn_id)


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("https://s3.cn-east-1.qiniucs.com", "cn-east-1"),
        ("https://s3.cn-south-1.qiniucs.com/", "cn-south-1"),
        ("s3-cn-north-1.qiniucs.com", "cn-north-1"),
        ("https://s3.ap-southeast-1.qiniucs.com:443", "ap-southeast-1"),
        ("http://127.0.0.1:9000", None),
        ("https://kodo.example.com", None),
    ],
)
def test_region_is_read_from_kodo_endpoints(host: str, region: str | None):
    assert region_from_host(host) == region


def test_connection_fields_become_the_client_settings(monkeypatch: pytest.MonkeyPatch):
    hook = _hook(monkeypatch, host="https://s3.cn-south-1.qiniucs.com/")
    config = hook.config
    assert config.endpoint == "https://s3.cn-south-1.qiniucs.com"
    assert config.region == "cn-south-1"
    assert (config.access_key, config.secret_key) == ("AK-visible", SECRET)
    assert config.addressing_style == "path"
    assert config.verify is True


def test_explicit_region_wins_and_unknown_hosts_default_to_cn_east_1(monkeypatch: pytest.MonkeyPatch):
    assert _hook(monkeypatch, host="https://s3.cn-south-1.qiniucs.com", extra={"region": "z2"}).config.region == "z2"
    assert _hook(monkeypatch, host="https://kodo.example.com").config.region == "cn-east-1"


def test_host_without_scheme_gets_https_and_the_port(monkeypatch: pytest.MonkeyPatch):
    assert _hook(monkeypatch, host="s3.example.com", port=9000).config.endpoint == "https://s3.example.com:9000"
    assert _hook(monkeypatch, host="s3.example.com", extra={"scheme": "http"}).config.endpoint == (
        "http://s3.example.com"
    )


def test_tls_options_follow_the_pandora_connection(monkeypatch: pytest.MonkeyPatch):
    assert _hook(monkeypatch, host="https://h", extra={"verify": "false"}).config.verify is False
    assert _hook(monkeypatch, host="https://h", extra={"ca_bundle": "/etc/ca.pem"}).config.verify == "/etc/ca.pem"


@pytest.mark.parametrize(
    ("conn", "parameter"),
    [
        ({"host": "https://h", "password": ""}, "connection"),
        ({"host": ""}, "connection.host"),
        ({"host": "ftp://h"}, "connection.host"),
        ({"host": "https://h", "extra": {"addressing_style": "sideways"}}, "connection.extra.addressing_style"),
    ],
)
def test_incomplete_connections_are_refused_by_field(monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], parameter):
    hook = _hook(monkeypatch, **conn)
    with pytest.raises(PandoraValidationError) as info:
        hook.get_client()
    assert info.value.parameter == parameter
    assert "kodo_unit" in str(info.value) or parameter != "connection"


def test_client_is_cached_path_style_with_retries_timeouts_and_no_default_checksums(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("boto3")
    hook = _hook(monkeypatch, host="https://s3.cn-east-1.qiniucs.com", extra={"timeout": 20, "retry_limit": 4})
    client = hook.get_client()
    assert hook.get_client() is client
    assert hook.get_conn() is client
    config = client.meta.config
    assert client.meta.endpoint_url == "https://s3.cn-east-1.qiniucs.com"
    assert client.meta.region_name == "cn-east-1"
    assert config.s3["addressing_style"] == "path"
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 20.0)
    assert config.request_checksum_calculation == "when_required"
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a b.txt"}, ExpiresIn=60)
    assert url.startswith("https://s3.cn-east-1.qiniucs.com/bkt/a%20b.txt?")


def test_virtual_addressing_on_request(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("boto3")
    hook = _hook(monkeypatch, host="https://s3.cn-east-1.qiniucs.com", extra={"addressing_style": "virtual"})
    assert hook.get_client().meta.config.s3["addressing_style"] == "virtual"


def test_missing_boto3_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` raise ImportError
    hook = _hook(monkeypatch, host="https://s3.cn-east-1.qiniucs.com")
    with pytest.raises(
        AirflowOptionalProviderFeatureException, match=r"pip install 'airflow-provider-pandora\[kodo\]'"
    ):
        hook.get_client()
    ok, message = hook.test_connection()
    assert not ok
    assert "airflow-provider-pandora[kodo]" in message


def test_importing_the_hook_does_not_import_boto3():
    code = "import sys, airflow_provider_pandora.hooks.kodo; print('boto3' in sys.modules or 'botocore' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_secret_key_stays_out_of_reprs(monkeypatch: pytest.MonkeyPatch):
    hook = _hook(monkeypatch, host="https://s3.cn-east-1.qiniucs.com")
    assert SECRET not in repr(hook)
    assert SECRET not in repr(hook.config)
    assert SECRET not in repr(KodoConnectionConfig("https://h", "ak", SECRET))


def test_kodo_error_keeps_its_fields_across_pickling():
    err = KodoError("Kodo object s3://b/k does not exist", bucket="b", key="k", code="NoSuchKey", status_code=404)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.bucket, copy.key, copy.code, copy.status_code, str(copy)) == ("b", "k", "NoSuchKey", 404, str(err))
    assert not copy.retryable
    assert KodoError("x", code="EndpointUnreachable").retryable
    assert KodoError("x", code="SlowDown", status_code=503).retryable


def test_airflow_2_form_matches_the_declared_connection_fields():
    declared = _kodo_connection()
    behaviour = KodoHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == declared["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"] == declared["ui-field-behaviour"]["relabeling"]
    assert behaviour["placeholders"] == declared["ui-field-behaviour"]["placeholders"]
    widgets = KodoHook.get_connection_form_widgets()
    from airflow.version import version

    if version.startswith("2."):
        assert set(widgets) == set(declared["conn-fields"])
    else:
        assert widgets == {}
