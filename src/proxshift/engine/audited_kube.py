"""The Kubernetes client as the engine builds it: each object applied, patched or deleted and each CSR
approved goes to the audit trail (engine/audit.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from proxshift.clients.kube import Kube
from proxshift.engine.audit import record


class AuditedKube(Kube):
    """Every object applied, patched or deleted, named by the API it went to (`label`: the cluster or hub)."""

    def _record(self, event: str, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        record(
            event,
            api=self.label,
            server=self.server,
            apiVersion=api_version,
            kind=kind,
            namespace=namespace,
            name=name,
        )

    def apply(self, document: dict[str, Any], *, server_side: bool = True) -> dict[str, Any]:
        result = super().apply(document, server_side=server_side)
        metadata = document.get("metadata") or {}
        kind = document["kind"]
        self._record("kube.apply", document["apiVersion"], kind, metadata["name"], metadata.get("namespace"))
        return result

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
        result = super().patch(api_version, kind, name, patch, namespace, patch_type=patch_type)
        if result is not None:
            self._record("kube.patch", api_version, kind, name, namespace)
        return result

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        deleted = super().delete(api_version, kind, name, namespace)
        if deleted:
            self._record("kube.delete", api_version, kind, name, namespace)
        return deleted

    def approve_csr(self, csr: Mapping[str, Any], reason: str, message: str) -> dict[str, Any] | None:
        result = super().approve_csr(csr, reason, message)
        if result is not None:
            name = str((csr.get("metadata") or {}).get("name", ""))
            self._record("kube.approve", "certificates.k8s.io/v1", "CertificateSigningRequest", name, None)
        return result
