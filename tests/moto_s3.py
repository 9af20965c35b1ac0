"""pytest fixtures that stand in for Qiniu Kodo: moto's S3 server on loopback (registered in tests/conftest.py).

* ``moto_s3`` (session): one :class:`ThreadedMotoServer` on ``127.0.0.1`` and a free port, started by the
  tests that ask for it; :class:`MotoS3` gives its URL, test credentials and a raw boto3 client.
* ``kodo_conn`` (function): a fresh, uniquely named bucket on that server and ``AIRFLOW_CONN_KODO_DEFAULT``
  pointing at it, so ``KodoHook()`` and Kodo transfers with default arguments read from it. The bucket and
  its objects are deleted afterwards.

moto accepts any credentials unless told otherwise; :meth:`MotoS3.require_signatures` switches its IAM
check on for one block, so wrong keys are refused as Kodo would refuse them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REGION = "cn-east-1"


@dataclass(frozen=True)
class MotoS3:
    """A running moto S3 server; ``client()`` is a plain boto3 client for arranging test data."""

    endpoint_url: str
    access_key: str = "kodo-test-access-key"
    secret_key: str = "kodo-test-secret-key"

    def client(self, *, access_key: str | None = None, secret_key: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2}),
        )

    @contextmanager
    def require_signatures(self) -> Iterator[tuple[str, str]]:
        """Make moto check SigV4 signatures against its IAM users for this block; yields a valid (AK, SK)."""
        import boto3

        iam = boto3.session.Session().client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name=REGION,  # moto keeps IAM per partition: cn-* regions are "aws-cn"
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )
        user = f"kodo-reader-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user,
            PolicyName="read-all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        response = requests.post(f"{self.endpoint_url}/moto-api/reset-auth", data=b"0", timeout=10)
        response.raise_for_status()
        try:
            yield key["AccessKeyId"], key["SecretAccessKey"]
        finally:
            requests.post(f"{self.endpoint_url}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()


@dataclass(frozen=True)
class KodoBucket:
    """One fresh bucket on the moto server, with the ``kodo_default`` connection pointing at it."""

    server: MotoS3
    bucket: str
    #: A boto3 client for arranging data (built once: a new client costs ~0.2 s).
    client: Any
    conn_id: str = "kodo_default"

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def put_file(self, key: str, path: str | Path) -> None:
        """Upload a file in parts (so a large test object never sits in the test's memory whole)."""
        self.client.upload_file(str(path), self.bucket, key)

    def connection_json(self, **extra: Any) -> str:
        """The Airflow connection (JSON form, for ``AIRFLOW_CONN_<ID>``) for this server."""
        return json.dumps(
            {
                "conn_type": "kodo",
                "host": self.server.endpoint_url,
                "login": self.server.access_key,
                "password": self.server.secret_key,
                "extra": {"region": REGION, **extra},
            }
        )


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    pytest.importorskip("boto3", reason="the kodo extra (boto3) is not installed")
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    # werkzeug logs every request at INFO; the tests' own logs are what matters.
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoS3(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


@pytest.fixture
def kodo_conn(moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> Iterator[KodoBucket]:
    client = moto_s3.client()
    bucket = KodoBucket(server=moto_s3, bucket=f"kodo-test-{uuid.uuid4().hex[:12]}", client=client)
    client.create_bucket(Bucket=bucket.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("AIRFLOW_CONN_KODO_DEFAULT", bucket.connection_json())
    yield bucket
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket.bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket.bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket.bucket)
