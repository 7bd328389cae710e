"""The one Kubernetes wrapper: a cluster's API through the dynamic client, its errors as proxshift errors.

Built from a kubeconfig's text (TLS verified with its CA, no global state touched), it reads, lists,
applies, patches and deletes any kind the cluster serves, and approves certificate signing requests.
Reads of an object that is not there answer None; every other failure is a `KubeError` (the API said
no) or a `KubeUnreachable` (no answer at all), so callers decide what is normal for them (an install
in progress expects both).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from proxshift.clients.transport import RETRY, RetryPolicy, failure_kind
from proxshift.config.paths import cache_root
from proxshift.errors import OperationError, UserInputError
from proxshift.files import scratch_dir

T = TypeVar("T")
FIELD_MANAGER = "proxshift"
PATCH_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json"}


class KubeError(OperationError):
    """The API answered, and said no (status is the HTTP status)."""

    def __init__(self, message: str, hint: str, status: int | None) -> None:
        super().__init__(message, hint)
        self.status = status


class KubeNotServed(KubeError):
    """The API does not serve this kind: its CRD (or the operator that brings it) is not installed."""


class KubeUnreachable(OperationError):
    """No answer: connection refused, timeout, DNS or TLS failure."""


def conditions(obj: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """An object's `status.conditions`, by type; {} when it reports none."""
    items = ((obj or {}).get("status") or {}).get("conditions") or []
    return {str(c.get("type", "")): c for c in items if isinstance(c, dict)}


def condition_is(obj: Mapping[str, Any] | None, kind: str, status: str = "True") -> bool:
    """Whether the object's condition `kind` has this status ("True", "False" or "Unknown")."""
    return conditions(obj).get(kind, {}).get("status") == status


def contains(current: Any, wanted: Any) -> bool:
    """Whether `current` already holds every field of `wanted` with the same value (lists: item by item)."""
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(contains(current.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(current, list) and len(current) == len(wanted) and all(map(contains, current, wanted))
    return bool(current == wanted)


def _as_stored(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Secret's stringData as the API stores it (base64 in data), to compare with what is there."""
    if document.get("kind") != "Secret" or not document.get("stringData"):
        return document
    data = dict(document.get("data") or {})
    data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in document["stringData"].items()})
    return {**{k: v for k, v in document.items() if k != "stringData"}, "data": data}


def until(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    poll: float,
    hint: str,
    on_miss: Callable[[], None] | None = None,
) -> T:
    """`check`'s first truthy answer, polled (short pauses first, then every `poll` s); an OperationError
    naming `what` once `timeout` seconds passed without one. `check` may raise to stop early."""
    from proxshift.clients.transport import Poller

    answer = Poller(timeout, cap=poll).until(check, on_miss)
    if not answer:
        raise OperationError(f"timed out after {timeout:.0f} s waiting for {what}", hint)
    return answer


class Kube:
    """One cluster's API. `label` names it in messages ("hub ocp-sno1"); `hint` says what to check when
    it refuses a request. Every request gives up after `timeout` seconds; `retry` says when it is tried
    again (transport.RETRY: reads on transient failures, anything that never reached the server)."""

    def __init__(
        self,
        kubeconfig: str,
        label: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RETRY,
        hint: str = "check the kubeconfig's permissions",
    ) -> None:
        import yaml
        from kubernetes import client, config

        self.label = label
        self.hint = hint
        configuration = client.Configuration()
        # The client writes the kubeconfig's CA, certificate and key to files: into a private directory
        # that goes when proxshift exits (or, after a kill -9, on the next run), never into /tmp.
        scratch = scratch_dir(cache_root() / "tmp")
        try:
            data = yaml.safe_load(kubeconfig)
            config.load_kube_config_from_dict(  # type: ignore[no-untyped-call]
                data, client_configuration=configuration, persist_config=False, temp_file_path=str(scratch)
            )
        except Exception:
            raise UserInputError(f"the kubeconfig of {label} cannot be read", "check where it comes from") from None
        configuration.retries = retry.urllib3()  # the pool manager takes urllib3's Retry as it is
        self.server = str(configuration.host)
        self.api = client.ApiClient(configuration)
        # The generated client waits forever unless each call says otherwise; discovery calls cannot.
        call_api: Any = self.api.call_api

        def call_with_timeout(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
            return call_api(*args, _request_timeout=_request_timeout or timeout, **kwargs)

        self.api.call_api = call_with_timeout  # type: ignore[method-assign]
        # A private discovery cache: the default one is shared by every user in /tmp.
        self._cache = tempfile.mkdtemp(prefix="discovery-", dir=scratch)
        weakref.finalize(self, shutil.rmtree, self._cache, True)
        self._dynamic: Any = None

    @classmethod
    def from_file(cls, path: Path, label: str, **options: Any) -> Kube:
        try:
            text = path.read_text()
        except OSError as exc:
            raise UserInputError(f"cannot read the kubeconfig {path}: {exc.strerror}", "check the path") from None
        return cls(text, label, **options)

    # -- plumbing ------------------------------------------------------------------------------------

    def call(self, doing: str, function: Callable[[], Any]) -> Any:
        """Run one API call; None when the object is not there (404), otherwise errors as above."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError
        from urllib3.exceptions import HTTPError

        try:
            return function()
        except (ApiException, DynamicApiError) as exc:
            status = getattr(exc, "status", None)
            if status == 404:
                return None
            raise KubeError(
                f"{self.label} ({self.server}) refused {doing}: HTTP {status} {_reason(exc)}".rstrip(),
                self.hint,
                status,
            ) from None
        except (HTTPError, OSError) as exc:
            raise KubeUnreachable(
                f"{self.label} ({self.server}) is unreachable while {doing} ({failure_kind(exc)})",
                "check the API URL and that the cluster is up",
            ) from exc

    @property
    def dynamic(self) -> Any:
        if self._dynamic is None:
            from kubernetes import dynamic

            self._dynamic = self.call(
                "API discovery",
                lambda: dynamic.DynamicClient(  # type: ignore[no-untyped-call]
                    self.api, cache_file=f"{self._cache}/discovery.json"
                ),
            )
            if self._dynamic is None:
                raise KubeError(f"{self.label} ({self.server}) serves no API discovery", self.hint, 404)
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        """The served resource for a kind; discovery is looked at again once for new CRDs."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        resources = self.dynamic.resources

        def lookup() -> Any:  # reads a group's discovery document the first time the group is asked for
            return self.call("API discovery", lambda: resources.get(api_version=api_version, kind=kind))

        try:
            return lookup()
        except ResourceNotFoundError:
            self.call("API discovery", resources.invalidate_cache)
            try:
                return lookup()
            except ResourceNotFoundError:
                raise KubeNotServed(
                    f"{self.label} does not serve {kind} ({api_version})",
                    "is the operator (or the CRD) that provides it installed there?",
                    404,
                ) from None

    # -- objects -------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        resource = self.resource(api_version, kind)
        answer = self.call(f"reading {kind} {name}", lambda: resource.get(name=name, namespace=namespace))
        return dict(answer.to_dict()) if answer is not None else None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in one namespace, or all), optionally only those with these labels."""
        resource = self.resource(api_version, kind)
        answer = self.call(f"listing {kind}", lambda: resource.get(namespace=namespace, label_selector=label_selector))
        return [dict(item) for item in (answer.to_dict().get("items") or [])] if answer is not None else []

    def apply(self, document: dict[str, Any], *, server_side: bool = True) -> dict[str, Any]:
        """Create or update an object given in full. Server-side apply by default (proxshift owns the
        fields it sets); `server_side=False` creates it, or merge-patches it when it exists."""
        resource = self.resource(document["apiVersion"], document["kind"])
        metadata = document.get("metadata") or {}
        name, namespace = metadata["name"], metadata.get("namespace")
        doing = f"applying {document['kind']} {name}"
        if server_side:
            result = self.call(
                doing,
                lambda: self.dynamic.server_side_apply(
                    resource, body=document, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True
                ),
            )
        else:
            try:
                result = self.call(doing, lambda: self.dynamic.create(resource, body=document, namespace=namespace))
            except KubeError as exc:
                if exc.status != 409:
                    raise
                result = self.call(
                    doing,
                    lambda: self.dynamic.patch(
                        resource, body=document, name=name, namespace=namespace, content_type=PATCH_TYPES["merge"]
                    ),
                )
        return dict(result.to_dict()) if result is not None else {}

    def ensure(self, document: dict[str, Any]) -> Literal["created", "configured", "unchanged"]:
        """Server-side apply unless the object already holds every field given (then nothing is sent):
        idempotent, and says which of the three it was."""
        metadata = document.get("metadata") or {}
        current = self.get(document["apiVersion"], document["kind"], metadata["name"], metadata.get("namespace"))
        if current is not None and contains(current, _as_stored(document)):
            return "unchanged"
        self.apply(document)
        return "created" if current is None else "configured"

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: Literal["merge", "json"] = "merge",
    ) -> dict[str, Any] | None:
        """A JSON merge patch (RFC 7386: null removes a key) or a JSON patch (RFC 6902: a list of
        operations); None when the object is not there."""
        resource = self.resource(api_version, kind)
        result = self.call(
            f"patching {kind} {name}",
            lambda: self.dynamic.patch(
                resource, body=patch, name=name, namespace=namespace, content_type=PATCH_TYPES[patch_type]
            ),
        )
        return dict(result.to_dict()) if result is not None else None

    def approve_csr(self, csr: Mapping[str, Any], reason: str, message: str) -> dict[str, Any] | None:
        """Approve a CertificateSigningRequest as `oc adm certificate approve` does: PUT to its `approval`
        subresource, with condition Approved=True. `csr` is the object as read: its resourceVersion makes
        the API refuse (409, a KubeError) a request that changed since it was judged. None when it is gone."""
        import copy
        from datetime import UTC, datetime

        resource = self.resource("certificates.k8s.io/v1", "CertificateSigningRequest")
        approval = (getattr(resource, "subresources", None) or {}).get("approval")
        if approval is None:
            raise KubeNotServed(
                f"{self.label} does not serve the approval of CertificateSigningRequests", self.hint, 404
            )
        body = copy.deepcopy(dict(csr))
        name = str(body["metadata"]["name"])
        status = body.get("status") or {}
        status["conditions"] = [
            *(status.get("conditions") or []),
            {
                "type": "Approved",
                "status": "True",
                "reason": reason,
                "message": message,
                "lastUpdateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        ]
        body["status"] = status
        result = self.call(
            f"approving CertificateSigningRequest {name}", lambda: approval.replace(body=body, name=name)
        )
        return dict(result.to_dict()) if result is not None else None

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Ask for the object's deletion; False when it was not there. Finalizers may keep it a while."""
        resource = self.resource(api_version, kind)
        return self.call(f"deleting {kind} {name}", lambda: resource.delete(name=name, namespace=namespace)) is not None


def _reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", ""))
    except (ValueError, TypeError, AttributeError):
        return str(getattr(exc, "reason", "") or "")
