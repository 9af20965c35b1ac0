"""``PandoraHook``: every call of the Pandora pipeline v2 API as one method, sync and async.

This module is the API alone: one documented method per call, and the Airflow connection-form glue. The
connection, the clients, signed and retried requests and the per-resource path helpers are
:class:`~airflow_provider_pandora.hooks.base.PandoraBaseHook`; how a connection is read is
:mod:`~airflow_provider_pandora.hooks._connection`; the failure policy, retries, response decoding and the
shared async clients are :mod:`~airflow_provider_pandora.hooks._transport`; the job-run model is
:mod:`~airflow_provider_pandora.hooks.runs`.
"""

from __future__ import annotations

import gzip as gzip_module
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

from airflow_provider_pandora import auth, wire
from airflow_provider_pandora import schema as rules
from airflow_provider_pandora.connection_form import form_widgets, ui_field_behaviour
from airflow_provider_pandora.exceptions import (
    PandoraApiError,
    PandoraAuthError,
    PandoraCertificateError,
    PandoraValidationError,
    PandoraWaitTimeoutError,
)
from airflow_provider_pandora.get_provider_info import _pandora_connection
from airflow_provider_pandora.hooks._connection import (
    mask_secret,
)
from airflow_provider_pandora.hooks.base import PandoraBaseHook
from airflow_provider_pandora.hooks.polling import PollPolicy
from airflow_provider_pandora.hooks.runs import (
    JobRun,
    PushResult,
    history_size,
    parse_job_history,
    select_run,
)
from airflow_provider_pandora.lineage import record_push

__all__ = ["MAX_PLUGIN_BYTES", "PUSH_CONTENT_TYPE", "PandoraHook"]

MAX_PLUGIN_BYTES = 20 * 1024 * 1024
#: The spec's content type for data pushes; the service also takes the SDKs' ``text/plain``.
PUSH_CONTENT_TYPE = "application/text"

Params = Sequence[Mapping[str, Any]] | Mapping[str, Any] | None


class PandoraHook(PandoraBaseHook):
    """Talk to the Pandora pipeline v2 API with a ``pandora`` connection: one method per API call.

    :param pandora_conn_id: connection id; login = access key, password = secret key,
        host = endpoint URL, extras ``region``, ``timeout``, ``retry_limit``, ``retry_delay``,
        ``verify``, ``ca_bundle``, ``console_url``.
    :param timeout: seconds one attempt of a request may take in all, from connecting to the last byte of the
        answer (overrides the connection's ``timeout``); a server trickling its answer cannot stretch it, and
        each retry gets its own.
    :param retry_limit: attempts for idempotent calls (overrides the connection).
    :param retry_delay: first back-off delay in seconds (overrides the connection).
    """

    conn_type = "pandora"
    hook_name = "Qiniu Pandora"

    # =========================================================================================
    # Groups
    # =========================================================================================
    def create_group(
        self, group: str, *, container: Mapping[str, Any], region: str | None = None, allocate_on_start: bool = False
    ) -> dict[str, Any]:
        """Create a resource group (``POST /v2/groups/<group>``).

        :param group: the group's name.
        :param container: ``{"type": "M16C4", "count": n}``, checked against the spec's container rules.
        :param region: the region; the connection's when omitted.
        :param allocate_on_start: allocate the containers now instead of on the group's first start.
        """
        path = self._group_path(group)
        body = {
            "region": self._region(region),
            "container": rules.check_container(container),
            "allocateOnStart": bool(allocate_on_start),
        }
        return self._call("POST", path, json_body=body)

    def update_group(self, group: str, *, container: Mapping[str, Any]) -> dict[str, Any]:
        """Resize a group's containers (``PUT /v2/groups/<group>``).

        :param group: the group's name.
        :param container: the new ``{"type", "count"}``.
        """
        path = self._group_path(group)
        return self._call("PUT", path, json_body={"container": rules.check_container(container)})

    def start_group(self, group: str) -> dict[str, Any]:
        """Start a group (an action, so retried: starting a running group is harmless).

        :param group: the group's name.
        """
        return self._call("POST", self._group_path(group, "/actions/start"))

    def stop_group(self, group: str) -> dict[str, Any]:
        """Stop a group (an action, so retried).

        :param group: the group's name.
        """
        return self._call("POST", self._group_path(group, "/actions/stop"))

    def list_groups(self) -> list[dict[str, Any]]:
        """Every group the key can see."""
        return list(self._call("GET", "/v2/groups").get("groups") or [])

    def get_group(self, group: str) -> dict[str, Any]:
        """A group's definition and status (see :meth:`group_status`).

        :param group: the group's name.
        """
        return self._call("GET", self._group_path(group))

    def delete_group(self, group: str) -> dict[str, Any]:
        """Delete a group.

        :param group: the group's name.
        """
        return self._call("DELETE", self._group_path(group))

    def group_exists(self, group: str) -> bool:
        """Whether the group exists (a 404 is ``False``; other errors raise).

        :param group: the group's name.
        """
        return self._exists(self._group_path(group))

    @staticmethod
    def group_status(info: Mapping[str, Any]) -> str:
        """``running`` or ``idle`` from a :meth:`get_group` answer.

        :param info: what :meth:`get_group` returned.
        """
        container = info.get("container") or {}
        return str(container.get("status") or info.get("status") or "").lower()

    async def aget_group(self, group: str) -> dict[str, Any]:
        """Async twin of :meth:`get_group`.

        :param group: the group's name.
        """
        return await self._acall("GET", self._group_path(group))

    # =========================================================================================
    # Repos
    # =========================================================================================
    def create_repo(
        self,
        repo: str,
        *,
        schema: Sequence[Mapping[str, Any]],
        region: str | None = None,
        group: str | None = None,
        repo_type: str | None = None,
        bucket: str | None = None,
        key_prefix: str | None = None,
        file_type: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a realtime (``rt``) repo, or a ``kodo`` repo reading ``bucket``/``key_prefix`` files.

        :param repo: the repo's name.
        :param schema: the fields, as the spec's ``{"key", "valtype", "required", "elemtype", "schema"}`` dicts.
        :param region: the region; the connection's when omitted.
        :param group: the resource group the repo runs in (not for ``kodo`` repos).
        :param repo_type: ``rt`` (the default) or ``kodo``.
        :param bucket: for ``kodo`` repos: the bucket to read.
        :param key_prefix: for ``kodo`` repos: the key prefix of the files.
        :param file_type: for ``kodo`` repos: the files' format.
        :param options: extra repo options, sent as given.
        """
        path = self._repo_path(repo)
        fields = rules.parse_schema(schema, "schema")
        body: dict[str, Any] = {"region": self._region(region), "schema": rules.schema_to_json(fields)}
        if repo_type is not None:
            body["type"] = rules.check_choice(repo_type, rules.REPO_TYPES, "repo_type", code="E18109")
        if repo_type == "kodo":
            if group:
                raise PandoraValidationError("group", "kodo repos do not belong to a group; leave it empty")
            if not bucket or key_prefix is None or not file_type:
                raise PandoraValidationError("bucket", "kodo repos need bucket, key_prefix and file_type")
            body.update(
                bucket=bucket,
                keyPrefix=key_prefix,
                fileType=rules.check_choice(file_type, rules.KODO_FILE_TYPES, "file_type"),
            )
        elif bucket or key_prefix or file_type:
            raise PandoraValidationError("bucket", "bucket, key_prefix and file_type are only for repo_type='kodo'")
        if group:
            body["group"] = rules.check_resource_name("group", group)
        if options:
            body["options"] = dict(options)
        return self._call("POST", path, json_body=body)

    def list_repos(self) -> list[dict[str, Any]]:
        """Every repo the key can see."""
        return list(self._call("GET", "/v2/repos").get("repos") or [])

    def get_repo(self, repo: str) -> dict[str, Any]:
        """A repo's definition, with its schema as the service holds it.

        :param repo: the repo's name.
        """
        return self._call("GET", self._repo_path(repo))

    def get_repo_schema(self, repo: str) -> tuple[rules.Field, ...]:
        """The repo's schema, parsed (what encoders validate points against).

        :param repo: the repo's name.
        """
        return rules.parse_schema(self.get_repo(repo).get("schema") or [], f"repo {repo!r} schema", allow_empty=True)

    def update_repo(self, repo: str, *, schema: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace the repo's schema; the service only lets fields be added.

        :param repo: the repo's name.
        :param schema: the whole new schema (the old fields plus the new ones).
        """
        path = self._repo_path(repo)
        fields = rules.parse_schema(schema, "schema")
        return self._call("PUT", path, json_body={"schema": rules.schema_to_json(fields)})

    def delete_repo(self, repo: str) -> dict[str, Any]:
        """Delete a repo (the service refuses while transforms or exports use it).

        :param repo: the repo's name.
        """
        return self._call("DELETE", self._repo_path(repo))

    def repo_exists(self, repo: str) -> bool:
        """Whether the repo exists (a 404 is ``False``; other errors raise).

        :param repo: the repo's name.
        """
        return self._exists(self._repo_path(repo))

    # =========================================================================================
    # Data push
    # =========================================================================================
    def push_batch(
        self, repo: str, body: bytes, *, gzip: bool = False, retry: bool = False, content_type: str = PUSH_CONTENT_TYPE
    ) -> str | None:
        """POST one pre-encoded batch (< 2 MiB uncompressed); returns the request id.

        Not retried by default: a lost answer may mean the batch was stored, and retrying makes
        delivery at-least-once. Transfers opt in per batch and count what they resend.

        :param repo: the repo to push into.
        :param body: wire-format lines (``docs/sdk-facts.md`` gives the format), each ending in ``\\n``.
        :param gzip: compress the body (``Content-Encoding: gzip``).
        :param retry: retry transient failures (may store the batch twice).
        :param content_type: the spec's ``application/text``; the SDKs send ``text/plain``.
        """
        path = self._repo_path(repo, "/data")
        if len(body) >= wire.MAX_BATCH_BYTES:
            raise PandoraValidationError(
                "data",
                f"batch is {len(body)} bytes; a push must stay below {wire.MAX_BATCH_BYTES} bytes "
                "(pass points instead of bytes to have them split)",
            )
        if not body or body.isspace():  # no copy of a 2 MiB body
            raise PandoraValidationError("data", "is empty; there is nothing to push")
        headers = {"Content-Type": content_type}
        if gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        _, reqid = self.request_with_reqid("POST", path, data=body, headers=headers, retry=retry)
        return reqid

    def push_data(
        self,
        repo: str,
        data: bytes | str | Iterable[Mapping[str, Any]],
        *,
        schema: Sequence[Mapping[str, Any]] | Sequence[Any] | None = None,
        gzip: bool = False,
        retry: bool = False,
        content_type: str = PUSH_CONTENT_TYPE,
    ) -> PushResult:
        """Push points (dicts) or pre-encoded wire text to a repo.

        Points are validated against the repo schema (fetched unless ``schema`` is given) and
        split into batches below 2 MiB; a bad point raises :class:`~airflow_provider_pandora.wire.PointError`
        naming its index and field before anything is sent.

        :param repo: the repo to push into.
        :param data: points as dicts, or wire-format text/bytes sent as one batch.
        :param schema: the schema to encode against (spec dicts or parsed fields); the repo's own when omitted.
        :param gzip: compress each batch.
        :param retry: retry transient failures (may store a batch twice).
        :param content_type: as in :meth:`push_batch`.
        """
        if isinstance(data, (bytes, str)):
            try:
                raw = data.encode("utf-8") if isinstance(data, str) else data
            except UnicodeEncodeError as err:
                raise PandoraValidationError("data", wire.lone_surrogate(err)) from None
            if raw and not raw.endswith(b"\n"):
                raw += b"\n"
            reqid = self.push_batch(repo, raw, gzip=gzip, retry=retry, content_type=content_type)
            record_push(self, repo)  # hook-level lineage: an @task calling the hook reports the repo it wrote
            return PushResult(len(wire.split_lines(raw)), len(raw), 1, (reqid,) if reqid else ())
        encoder = self.encoder_for(repo, schema)
        lines = list(encoder.encode_all(data))  # validate everything before the first request
        if not lines:
            raise PandoraValidationError("points", "is empty; there is nothing to push")
        total_bytes = batches = 0
        reqids: list[str] = []
        for batch in wire.batches(lines):
            body = wire.body_of(batch)
            reqid = self.push_batch(repo, body, gzip=gzip, retry=retry, content_type=content_type)
            total_bytes += len(body)
            batches += 1
            if reqid:
                reqids.append(reqid)
        record_push(self, repo)
        return PushResult(len(lines), total_bytes, batches, tuple(reqids))

    def encoder_for(
        self, repo: str, fields: Sequence[Any] | None = None, field_map: Mapping[str, str | None] | None = None
    ) -> wire.PointEncoder:
        """An encoder for ``repo``: ``fields`` as spec dicts or parsed fields, else the repo's own schema.

        :param repo: the repo whose schema is fetched when ``fields`` is omitted.
        :param fields: the schema to encode against.
        :param field_map: input key → repo field (``None`` drops the key).
        """
        if fields is None:
            parsed = self.get_repo_schema(repo)
        elif all(isinstance(f, rules.Field) for f in fields):
            parsed = tuple(fields)
        else:
            parsed = rules.parse_schema(fields, "schema")
        return wire.PointEncoder(parsed, field_map=field_map)

    # =========================================================================================
    # Transforms and plugins
    # =========================================================================================
    def _transform_spec(
        self,
        *,
        code: str | None,
        mode: str | None,
        plugin: Mapping[str, Any] | None,
        interval: str | None,
        container: Mapping[str, Any] | None,
        update: bool,
    ) -> dict[str, Any]:
        if not code and not plugin:
            raise PandoraValidationError("code", "give SQL code, a plugin, or both: a transform needs one")
        body: dict[str, Any] = {}
        if plugin:
            body["plugin"] = self._plugin_spec(plugin)
        if code:
            if not update:
                body["mode"] = rules.check_choice(mode or "sql", ("sql",), "mode", code="E18203")
            body["code"] = code
        if interval is not None:
            body["interval"] = rules.check_interval(interval, update=update)
        if container is not None:
            body["container"] = rules.check_container(container)
        return body

    @staticmethod
    def _plugin_spec(plugin: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(plugin, Mapping):
            raise PandoraValidationError("plugin", 'must be {"name": ..., "output": [{"name", "type"}]}')
        rules.check_resource_name("plugin", plugin.get("name"), "plugin.name")
        outputs = plugin.get("output") or []
        if not isinstance(outputs, Sequence) or not outputs:
            raise PandoraValidationError("plugin.output", "must list the plugin's output fields")
        checked = []
        for i, out in enumerate(outputs):
            if not isinstance(out, Mapping):
                raise PandoraValidationError(f"plugin.output[{i}]", 'must be {"name", "type"}')
            name = rules.check_name(out.get("name"), f"plugin.output[{i}].name", code="E18106")
            otype = out.get("type") or "string"
            rules.check_choice(otype, sorted(rules.PLUGIN_OUTPUT_TYPES), f"plugin.output[{i}].type", code="E18211")
            checked.append({"name": name, "type": otype})
        return {"name": plugin["name"], "output": checked}

    def create_transform(
        self,
        repo: str,
        transform: str,
        dest_repo: str,
        *,
        code: str | None = None,
        mode: str | None = "sql",
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
        whence: str | None = None,
    ) -> dict[str, Any]:
        """Create a transform from ``repo`` into ``dest_repo`` (created by the service if missing).

        :param repo: the source repo.
        :param transform: the transform's name.
        :param dest_repo: the repo the results go to (must differ from ``repo``).
        :param code: the SQL (give it, a ``plugin``, or both).
        :param mode: ``sql``, the only mode the spec names.
        :param plugin: ``{"name", "output": [{"name", "type"}]}`` of an uploaded plugin.
        :param interval: how often it runs (the spec's ``5s`` … ``1h``).
        :param container: ``{"type", "count"}`` it runs on.
        :param whence: where in the source it starts: ``oldest`` or ``newest``.
        """
        path = self._transform_path(repo, transform, self._dest(dest_repo))
        if repo == dest_repo:
            raise PandoraValidationError("dest_repo", "must differ from the source repo")
        body = self._transform_spec(
            code=code, mode=mode, plugin=plugin, interval=interval, container=container, update=False
        )
        if whence is not None:
            body["whence"] = rules.check_choice(whence, rules.WHENCE_VALUES, "whence")
        return self._call("POST", path, json_body=body)

    def update_transform(
        self,
        repo: str,
        transform: str,
        *,
        code: str | None = None,
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change a transform's code, plugin, interval or container (what is omitted stays).

        :param repo: the source repo.
        :param transform: the transform's name.
        :param code: the new SQL.
        :param plugin: the new plugin spec.
        :param interval: the new interval (the update form of the spec's intervals).
        :param container: the new ``{"type", "count"}``.
        """
        path = self._transform_path(repo, transform)
        if not (code or plugin or interval or container):
            raise PandoraValidationError("code", "give at least one of code, plugin, interval or container to update")
        if code or plugin:
            body = self._transform_spec(
                code=code, mode=None, plugin=plugin, interval=interval, container=container, update=True
            )
        else:
            body = {}
            if interval:
                body["interval"] = rules.check_interval(interval, update=True)
            if container:
                body["container"] = rules.check_container(container)
        return self._call("PUT", path, json_body=body)

    def list_transforms(self, repo: str) -> list[dict[str, Any]]:
        """The transforms reading ``repo``.

        :param repo: the source repo.
        """
        return list(self._call("GET", self._repo_path(repo, "/transforms")).get("transforms") or [])

    def get_transform(self, repo: str, transform: str) -> dict[str, Any]:
        """A transform's definition.

        :param repo: the source repo.
        :param transform: the transform's name.
        """
        return self._call("GET", self._transform_path(repo, transform))

    def delete_transform(self, repo: str, transform: str) -> dict[str, Any]:
        """Delete a transform.

        :param repo: the source repo.
        :param transform: the transform's name.
        """
        return self._call("DELETE", self._transform_path(repo, transform))

    def transform_exists(self, repo: str, transform: str) -> bool:
        """Whether the transform exists (a 404 is ``False``; other errors raise).

        :param repo: the source repo.
        :param transform: the transform's name.
        """
        return self._exists(self._transform_path(repo, transform))

    def upload_plugin(self, plugin: str, jar: bytes | str | os.PathLike[str]) -> dict[str, Any]:
        """Upload a plugin jar with its Content-MD5; at most 20 MB.

        :param plugin: the plugin's name (the spec's Java-class-like rule).
        :param jar: the jar's bytes, or a path to it.
        """
        path = self._plugin_path(plugin)
        if isinstance(jar, (str, os.PathLike)):
            jar_path = os.fspath(jar)
            if not os.path.isfile(jar_path):
                raise PandoraValidationError("jar_path", f"{jar_path!r} is not a file")
            with open(jar_path, "rb") as fh:
                content = fh.read(MAX_PLUGIN_BYTES + 1)
        else:
            content = bytes(jar)
        if not content:
            raise PandoraValidationError("jar_path", "the jar is empty")
        if len(content) > MAX_PLUGIN_BYTES:
            raise PandoraValidationError("jar_path", f"the jar is over the {MAX_PLUGIN_BYTES} byte plugin limit")
        headers = {"Content-Type": "application/java-archive", "Content-MD5": auth.content_md5(content)}
        return self._call("POST", path, data=content, headers=headers)

    def list_plugins(self) -> list[dict[str, Any]]:
        """Every uploaded plugin."""
        return list(self._call("GET", "/v2/plugins").get("plugins") or [])

    def get_plugin(self, plugin: str) -> dict[str, Any]:
        """A plugin's record.

        :param plugin: the plugin's name.
        """
        return self._call("GET", self._plugin_path(plugin))

    def delete_plugin(self, plugin: str) -> dict[str, Any]:
        """Delete a plugin.

        :param plugin: the plugin's name.
        """
        return self._call("DELETE", self._plugin_path(plugin))

    def plugin_exists(self, plugin: str) -> bool:
        """Whether the plugin exists (a 404 is ``False``; other errors raise).

        :param plugin: the plugin's name.
        """
        return self._exists(self._plugin_path(plugin))

    # =========================================================================================
    # Exports
    # =========================================================================================
    def create_export(
        self, repo: str, export: str, *, export_type: str, spec: Mapping[str, Any], whence: str | None = None
    ) -> dict[str, Any]:
        """Create an export from ``repo`` to HTTP, TSDB, LogDB, Kodo or MongoDB.

        :param repo: the repo to export.
        :param export: the export's name.
        :param export_type: ``http``, ``tsdb``, ``logdb``, ``kodo`` or ``mongo`` (aliases accepted).
        :param spec: the type's spec; required keys are checked before sending.
        :param whence: where in the repo it starts: ``oldest`` or ``newest``.
        """
        path = self._export_path(repo, export)
        etype = rules.normalise_export_type(export_type)
        body: dict[str, Any] = {"type": etype, "spec": rules.check_export_spec(etype, spec)}
        if whence is not None:
            body["whence"] = rules.check_choice(whence, rules.WHENCE_VALUES, "whence")
        return self._call("POST", path, json_body=body)

    def update_export(
        self, repo: str, export: str, *, spec: Mapping[str, Any], export_type: str | None = None
    ) -> dict[str, Any]:
        """Replace an export's spec (type and whence cannot change); validated locally when the type is given.

        :param repo: the exported repo.
        :param export: the export's name.
        :param spec: the whole new spec.
        :param export_type: the export's type, to check ``spec`` before sending.
        """
        path = self._export_path(repo, export)
        if not isinstance(spec, Mapping) or not spec:
            raise PandoraValidationError("spec", "must be a non-empty object")
        if export_type is not None:
            rules.check_export_spec(rules.normalise_export_type(export_type), spec)
        return self._call("PUT", path, json_body={"spec": dict(spec)})

    def list_exports(self, repo: str) -> list[dict[str, Any]]:
        """All exports of a repo (the SDK's ``{"exports": [...]}``; the spec's single object is wrapped).

        :param repo: the exported repo.
        """
        payload = self.request("GET", self._repo_path(repo, "/exports"))
        if isinstance(payload, list):
            return payload
        if "exports" in payload:
            return list(payload["exports"] or [])
        return [payload] if payload.get("name") else []

    def get_export(self, repo: str, export: str) -> dict[str, Any]:
        """An export's definition.

        :param repo: the exported repo.
        :param export: the export's name.
        """
        return self._call("GET", self._export_path(repo, export))

    def delete_export(self, repo: str, export: str) -> dict[str, Any]:
        """Delete an export.

        :param repo: the exported repo.
        :param export: the export's name.
        """
        return self._call("DELETE", self._export_path(repo, export))

    def export_exists(self, repo: str, export: str) -> bool:
        """Whether the export exists (a 404 is ``False``; other errors raise).

        :param repo: the exported repo.
        :param export: the export's name.
        """
        return self._exists(self._export_path(repo, export))

    # =========================================================================================
    # Offline jobs
    # =========================================================================================
    def submit_job(
        self,
        repo: str,
        job: str,
        dest_repo: str,
        *,
        code: str,
        container: Mapping[str, Any],
        scheduler: Mapping[str, Any],
        params: Params = None,
    ) -> dict[str, Any]:
        """Create an offline job reading ``repo`` (a realtime or ``kodo`` repo) into ``dest_repo``.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param dest_repo: the repo the results go to.
        :param code: the job's SQL.
        :param container: ``{"type", "count"}`` it runs on.
        :param scheduler: the spec's ``{"type": "once"}``, ``{"type": "loop", "loop": "2h"}`` or
            ``{"type": "crontab", "crontab": "0 0 0/1 * * ?"}``.
        :param params: default job parameters (the spec's ``[{"name", "value"}]``, or a mapping).
        """
        path = self._job_path(repo, job, self._dest(dest_repo))
        if not isinstance(code, str) or not code.strip():
            raise PandoraValidationError("code", "is required: the job's SQL")
        body: dict[str, Any] = {
            "code": code,
            "container": rules.check_container(container),
            "scheduler": rules.check_scheduler(scheduler),
        }
        checked = rules.check_params(params)
        if checked:
            body["params"] = checked
        return self._call("POST", path, json_body=body)

    def start_job(self, repo: str, job: str, *, params: Params = None) -> dict[str, Any]:
        """Start a run. Not retried automatically: a lost answer may still have started a run.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param params: this run's parameter values.
        """
        path = self._job_path(repo, job, "/actions/start")
        return self._call("POST", path, json_body={"params": rules.check_params(params)}, retry=False)

    def stop_job(self, repo: str, job: str) -> dict[str, Any]:
        """Stop the job's current run.

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return self._call("POST", self._job_path(repo, job, "/actions/stop"))

    async def astop_job(self, repo: str, job: str) -> dict[str, Any]:
        """Async twin of :meth:`stop_job`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return await self._acall("POST", self._job_path(repo, job, "/actions/stop"))

    def get_job(self, repo: str, job: str) -> dict[str, Any]:
        """The job's definition (an extension the emulator serves, mirroring the SDK's ``GET /v2/jobs/<job>``).

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return self._call("GET", self._job_path(repo, job))

    async def aget_job(self, repo: str, job: str) -> dict[str, Any]:
        """Async twin of :meth:`get_job`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return await self._acall("GET", self._job_path(repo, job))

    def delete_job(self, repo: str, job: str) -> dict[str, Any]:
        """Delete a job.

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return self._call("DELETE", self._job_path(repo, job))

    def job_exists(self, repo: str, job: str) -> bool:
        """Whether the job exists (a 404 is ``False``; other errors raise).

        :param repo: the repo the job reads.
        :param job: the job's name.
        """
        return self._exists(self._job_path(repo, job))

    def get_job_history(self, repo: str, job: str, *, page: int = 1, size: int = 20) -> list[JobRun]:
        """Runs of a job, newest first, with statuses normalised to :class:`JobStatus`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param page: the history page (from 1).
        :param size: records per page.
        """
        payload = self.request("GET", self._job_path(repo, job, "/history"), params={"page": page, "size": size})
        return parse_job_history(payload)

    async def aget_job_history(self, repo: str, job: str, *, page: int = 1, size: int = 20) -> list[JobRun]:
        """Async twin of :meth:`get_job_history`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param page: the history page (from 1).
        :param size: records per page.
        """
        payload = await self.arequest("GET", self._job_path(repo, job, "/history"), params={"page": page, "size": size})
        return parse_job_history(payload)

    def get_latest_job_run(
        self,
        repo: str,
        job: str,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        after_run_id: int | None = None,
    ) -> JobRun | None:
        """The run a caller waits for; see :func:`~airflow_provider_pandora.hooks.runs.select_run`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param since: the first run started at or after this (else the newest run).
        :param run_id: exactly this run.
        :param after_run_id: ignore runs up to this id.
        """
        size = history_size(since, run_id, after_run_id)
        return select_run(self.get_job_history(repo, job, size=size), since, run_id=run_id, after_run_id=after_run_id)

    async def aget_latest_job_run(
        self,
        repo: str,
        job: str,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        after_run_id: int | None = None,
    ) -> JobRun | None:
        """Async twin of :meth:`get_latest_job_run`.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param since: the first run started at or after this (else the newest run).
        :param run_id: exactly this run.
        :param after_run_id: ignore runs up to this id.
        """
        size = history_size(since, run_id, after_run_id)
        runs = await self.aget_job_history(repo, job, size=size)
        return select_run(runs, since, run_id=run_id, after_run_id=after_run_id)

    def wait_for_job_run(
        self,
        repo: str,
        job: str,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        after_run_id: int | None = None,
        policy: PollPolicy | None = None,
    ) -> JobRun:
        """Poll the job's history until the selected run ends, and return it whatever its status.

        Polls under ``policy`` (:class:`~airflow_provider_pandora.hooks.polling.PollPolicy`: interval,
        deadline, transient-error budget; default every 10 s, no deadline), as the sensors and triggers do.
        Raises :class:`~airflow_provider_pandora.exceptions.PandoraWaitTimeoutError` at the deadline (the
        job is left running) and the last error once the budget of transient errors in a row is spent.

        :param repo: the repo the job reads.
        :param job: the job's name.
        :param since: the first run started at or after this (else the newest run).
        :param run_id: exactly this run.
        :param after_run_id: ignore runs up to this id.
        :param policy: how to poll.
        """
        policy = policy or PollPolicy()
        while True:
            try:
                run = self.get_latest_job_run(repo, job, since=since, run_id=run_id, after_run_id=after_run_id)
                policy.succeeded()
            except Exception as exc:
                if not policy.tolerate(exc):
                    exc.add_note(f"waiting for job {job!r} of repo {repo!r}: {policy.giving_up(exc)}")
                    raise
                self.log.warning(
                    "transient error polling job %r (%d/%d): %s", job, policy.errors, policy.max_transient_errors, exc
                )
                run = None
            if run is not None and run.status.is_terminal:
                return run
            if policy.expired():
                raise PandoraWaitTimeoutError(f"job {job!r} of repo {repo!r} did not end within the timeout")
            time.sleep(policy.pause())

    # =========================================================================================
    # Datasource schema
    # =========================================================================================
    def get_datasource_schema(
        self, *, bucket: str, key_prefix: str, file_type: str, region: str | None = None
    ) -> list[dict[str, Any]]:
        """Infer the schema of Kodo files (``GET /v2/schemas`` with a JSON body, as the spec says).

        :param bucket: the bucket.
        :param key_prefix: the key prefix of the files.
        :param file_type: the files' format.
        :param region: the region; the connection's when omitted.
        """
        if not bucket:
            raise PandoraValidationError("bucket", "is required")
        body = {
            "region": self._region(region),
            "bucket": bucket,
            "keyPrefix": key_prefix or "",
            "fileType": rules.check_choice(file_type, rules.KODO_FILE_TYPES, "file_type"),
        }
        return list(self._call("GET", "/v2/schemas", json_body=body).get("schema") or [])

    # =========================================================================================
    # Tokens
    # =========================================================================================
    def make_token(self, resource: str, *, method: str = "POST", expires_in: int = 3600, content_type: str = "") -> str:
        """Mint a short-lived ``Authorization`` value for one method on one resource; masked in logs.

        :param resource: the path it grants, e.g. ``/v2/repos/<repo>/data``.
        :param method: the HTTP method it grants.
        :param expires_in: seconds until it expires.
        :param content_type: the content type the request must carry (signed into the token).
        """
        config = self.config
        token = auth.make_token(
            config.access_key,
            config.secret_key,
            resource=resource,
            method=method,
            expires=int(time.time()) + int(expires_in),
            content_type=content_type,
        )
        mask_secret(token)
        return token

    def make_push_token(self, repo: str, *, expires_in: int = 3600, content_type: str = PUSH_CONTENT_TYPE) -> str:
        """A token that lets a third party push data into ``repo`` only, until it expires.

        :param repo: the repo it may push into.
        :param expires_in: seconds until it expires.
        :param content_type: the content type the pushes must carry.
        """
        rules.check_resource_name("repo", repo)
        return self.make_token(
            f"/v2/repos/{repo}/data", method="POST", expires_in=expires_in, content_type=content_type
        )

    # =========================================================================================
    # Airflow integration
    # =========================================================================================
    def test_connection(self) -> tuple[bool, str]:
        """Cheap signed ``GET /v2/groups``; never raises (Airflow's connection test contract)."""
        try:
            groups = self.list_groups()
        except PandoraAuthError as err:
            return False, (
                f"Authentication failed (HTTP {err.status_code}{', ' + err.code if err.code else ''}): "
                f"{err.message}. {err.hint}"
            )
        except PandoraApiError as err:
            return False, f"Pandora answered with an error: {err}"
        except PandoraCertificateError as err:
            return False, str(err)
        except requests.RequestException as err:
            return False, f"Could not reach the Pandora endpoint: {err}"
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"
        return True, f"Connected to {self.config.endpoint} ({len(groups)} groups visible)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 2 form (Airflow 3 reads the declarative ``conn-fields`` instead)."""
        return ui_field_behaviour(_pandora_connection())

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 2 form widgets for the extras, from the same declarative fields."""
        return form_widgets(_pandora_connection())
