"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Airflow validates this dict at start-up and a bad one takes the whole CLI down, so it is
checked against the installed Airflow's ``provider_info.schema.json`` in the test suite.
Kept free of imports beyond the version, because Airflow loads it in every process.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_pandora import __version__

PANDORA = "Qiniu Pandora"
KODO = "Qiniu Kodo"
LOCAL = "Local"
_PKG = "airflow_provider_pandora"
#: Official providers name their how-to pages /docs/<package-name>/<path under the docs folder>; ours are docs/<path>,
#: published at https://airflow-provider-pandora.readthedocs.io/en/latest/<path, .rst as .html>.
_DOCS = "/docs/airflow-provider-pandora"
_PANDORA_HOWTOS = ["index", "hook", "groups", "repos", "data-push", "transforms", "plugins", "exports", "jobs"]


def _tls_fields() -> dict[str, Any]:
    """TLS extras, read the same way by both connection types (``hooks.pandora.connection_verify``)."""
    return {
        "verify": {
            "label": "Verify TLS",
            "description": "Verify the endpoint's TLS certificate (keep on outside tests).",
            "schema": {"type": ["boolean", "null"], "default": True},
        },
        "ca_bundle": {
            "label": "CA bundle path",
            "description": "PEM file of CA certificates to trust instead of the system store.",
            "schema": {"type": ["string", "null"]},
        },
    }


def _pandora_connection() -> dict[str, Any]:
    return {
        "connection-type": "pandora",
        "hook-class-name": f"{_PKG}.hooks.pandora.PandoraHook",
        "hook-name": PANDORA,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "Endpoint", "login": "Access Key (AK)", "password": "Secret Key (SK)"},
            "placeholders": {
                "host": "https://pipeline.qiniu.com",
                "login": "your Qiniu access key",
                "password": "your Qiniu secret key",
            },
        },
        "conn-fields": {
            "region": {
                "label": "Region",
                # No default: an extra shorter than 5 characters makes Airflow 3 log "Skipping masking for a
                # secret as it's too short" in every task, and nb is the only region anyway.
                "description": "Pandora region of new groups and repos; empty: nb (the only one).",
                "schema": {"type": ["string", "null"]},
            },
            "timeout": {
                "label": "Timeout (seconds)",
                "description": "Timeout of each HTTP request.",
                "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
            },
            "retry_limit": {
                "label": "Retry limit",
                "description": "Attempts for idempotent calls on connection errors, timeouts, 5xx and 429.",
                "schema": {"type": ["integer", "null"], "default": 3, "minimum": 1},
            },
            "retry_delay": {
                "label": "Retry delay (seconds)",
                "description": "First back-off delay; it grows exponentially with jitter.",
                "schema": {"type": ["number", "null"], "default": 1, "minimum": 0},
            },
            **_tls_fields(),
            "console_url": {
                "label": "Console URL",
                "description": "Base URL of the Pandora console, for the 'Pandora console' task link.",
                "schema": {"type": ["string", "null"], "format": "url"},
            },
            "account": {
                "label": "Account (lineage)",
                "description": "Optional: names the account in asset URIs and lineage "
                "(pandora://host/<account>/<repo>), e.g. the Qiniu UID; only needed when several accounts of one "
                "endpoint feed this Airflow.",
                "schema": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
            },
        },
    }


def _kodo_connection() -> dict[str, Any]:
    return {
        "connection-type": "kodo",
        "hook-class-name": f"{_PKG}.hooks.kodo.KodoHook",
        "hook-name": KODO,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "S3 endpoint", "login": "Access Key (AK)", "password": "Secret Key (SK)"},
            "placeholders": {
                "host": "https://s3.cn-east-1.qiniucs.com",
                "login": "your Qiniu access key",
                "password": "your Qiniu secret key",
            },
        },
        "conn-fields": {
            "region": {
                "label": "S3 region",
                "description": "Kodo's S3 region id, e.g. cn-east-1; empty: taken from the endpoint "
                "(s3.<region>.qiniucs.com), else cn-east-1.",
                "schema": {"type": ["string", "null"]},
            },
            "addressing_style": {
                "label": "Addressing style",
                "description": "path (default) or virtual.",
                "schema": {"type": ["string", "null"], "enum": ["path", "virtual", None]},
            },
            "timeout": {
                "label": "Timeout (seconds)",
                "description": "Connect and per-read timeout of each S3 request.",
                "schema": {"type": ["number", "null"], "default": 60, "minimum": 1},
            },
            "retry_limit": {
                "label": "Retry limit",
                "description": "Attempts per S3 request on connection errors, throttling and 5xx.",
                "schema": {"type": ["integer", "null"], "default": 5, "minimum": 1},
            },
            **_tls_fields(),
        },
    }


def _asset_uris() -> list[dict[str, Any]]:
    """The ``pandora`` and ``kodo`` URI schemes: normaliser, factory and OpenLineage converter (``assets.py``)."""
    return [
        {
            "schemes": [scheme],
            "handler": f"{_PKG}.assets.sanitize_{scheme}_uri",
            "factory": f"{_PKG}.assets.create_{scheme}_asset",
            "to_openlineage_converter": f"{_PKG}.assets.convert_{scheme}_asset_to_openlineage",
        }
        for scheme in ("pandora", "kodo")
    ]


def _config() -> dict[str, Any]:
    """``[pandora]``: what ``pandora_repo_asset`` names repos after when a DAG does not say."""
    return {
        "pandora": {
            "description": "How pandora_repo_asset() names repos when a DAG passes no endpoint or account.",
            "options": {
                "asset_endpoint": {
                    "description": "The endpoint of the pandora connection that writes the repos this deployment's "
                    "DAGs name as assets (its host and port make the asset URI).",
                    "version_added": "0.1.0",
                    "type": "string",
                    "example": "http://127.0.0.1:8480",
                    "default": "https://pipeline.qiniu.com",
                },
                "asset_account": {
                    "description": "The account extra of that connection, when it has one.",
                    "version_added": "0.1.0",
                    "type": "string",
                    "example": "1380012345",
                    "default": "",
                },
            },
        }
    }


def get_provider_info() -> dict[str, Any]:
    """The provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-pandora",
        "name": PANDORA,
        "description": "`Qiniu Pandora <https://www.qiniu.com/products/pandora>`__ big-data pipeline: "
        "groups, repos, transforms, exports and offline jobs; data push and Kodo transfers.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": PANDORA,
                "external-doc-url": "https://developer.qiniu.com/express",
                "how-to-guide": [f"{_DOCS}/howto/{page}.rst" for page in [*_PANDORA_HOWTOS, "sensors", "assets"]],
                "tags": ["service"],
            },
            {
                "integration-name": KODO,
                "external-doc-url": "https://developer.qiniu.com/kodo",
                "how-to-guide": [f"{_DOCS}/howto/transfers.rst"],
                "tags": ["service"],
            },
        ],
        "hooks": [
            {"integration-name": PANDORA, "python-modules": [f"{_PKG}.hooks.pandora"]},
            {"integration-name": KODO, "python-modules": [f"{_PKG}.hooks.kodo"]},
        ],
        "operators": [
            {
                "integration-name": PANDORA,
                "python-modules": [
                    f"{_PKG}.operators.{name}"
                    for name in ("groups", "repos", "data", "transforms", "plugins", "exports", "jobs")
                ],
            }
        ],
        "sensors": [
            {"integration-name": PANDORA, "python-modules": [f"{_PKG}.sensors.jobs", f"{_PKG}.sensors.groups"]}
        ],
        "triggers": [
            {
                "integration-name": PANDORA,
                "python-modules": [f"{_PKG}.triggers.jobs", f"{_PKG}.triggers.groups", f"{_PKG}.triggers.events"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": LOCAL,
                "target-integration-name": PANDORA,
                "how-to-guide": f"{_DOCS}/howto/transfers.rst",
                "python-module": f"{_PKG}.transfers.local_to_pandora",
            },
            {
                "source-integration-name": KODO,
                "target-integration-name": PANDORA,
                "how-to-guide": f"{_DOCS}/howto/transfers.rst",
                "python-module": f"{_PKG}.transfers.kodo_to_pandora",
            },
        ],
        "connection-types": [_pandora_connection(), _kodo_connection()],
        "extra-links": [f"{_PKG}.links.PandoraConsoleLink"],
        # Airflow 3 reads asset-uris; Airflow 2.11 reads dataset-uris (the same entries).
        "asset-uris": _asset_uris(),
        "dataset-uris": _asset_uris(),
        "config": _config(),
    }
