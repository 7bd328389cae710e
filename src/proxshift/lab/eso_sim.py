"""Plays the External Secrets Operator on a cluster's API emulator, against a real Vault (the lab's OpenBao).

- The operator's config (installed by OLM, see olm_sim): community `OperatorConfig`
  (operator.external-secrets.io/v1alpha1) in a namespace, or Red Hat's `ExternalSecretsConfig`
  `cluster` (operator.openshift.io/v1alpha1, namespace external-secrets): Deployments
  external-secrets, external-secrets-webhook, external-secrets-cert-controller and Service
  external-secrets-webhook there, Available `deploy_seconds` later (the config then Ready).
- The webhook: while the webhook Deployment is not Available, and for the next `refuse_webhook(n)`
  writes, an API client's create or update of an external-secrets.io object is refused with
  HTTP 500 "failed calling webhook ... no endpoints available for service
  \"external-secrets-webhook\"" (ESO #1739, #2037).
- ClusterSecretStore / SecretStore with `spec.provider.vault` {server, path, version (v2), namespace,
  caBundle | caProvider, auth: tokenSecretRef {name, namespace, key} | kubernetes {mountPath,
  role, serviceAccountRef}}: the token (or a Vault login with a service account token of the
  emulator) is checked with Vault's token lookup-self: condition Ready True (reason Valid,
  "store validated") or False (ValidationFailed / InvalidProviderConfig, with Vault's answer).
- ExternalSecret {secretStoreRef, target {name, creationPolicy}, data [{secretKey, remoteRef {key,
  property, version}}], dataFrom [{extract {key}}], refreshInterval}: the values read from Vault
  into the target Secret (owned by the ExternalSecret, Opaque unless target.template.type says
  otherwise): condition Ready True reason SecretSynced "secret synced", or False reason
  SecretSyncedError; read again every refreshInterval and when the spec changes.

The served API version is v1 (v1beta1 is listed but not served, as ESO 0.17+ does).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from proxshift.lab.controller import Controller, condition, conditions_of, now
from proxshift.lab.kubeapi import ApiError, KubeApiServer, ResourceType, crd_manifest

GROUP = "external-secrets.io"
API = f"{GROUP}/v1"
COMMUNITY_CONFIG = "operator.external-secrets.io/v1alpha1"
REDHAT_CONFIG = "operator.openshift.io/v1alpha1"
OPERAND_NAMESPACE = "external-secrets"
OPERANDS = ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller")
WEBHOOK = "external-secrets-webhook"

CRDS = tuple(
    crd_manifest(GROUP, kind, ("v1", "v1beta1"), namespaced=namespaced, unserved=("v1beta1",))
    for kind, namespaced in (
        ("ExternalSecret", True),
        ("SecretStore", True),
        ("ClusterSecretStore", False),
        ("ClusterExternalSecret", False),
        ("PushSecret", True),
    )
)
COMMUNITY_CONFIG_CRD = crd_manifest("operator.external-secrets.io", "OperatorConfig", ("v1alpha1",))
REDHAT_CONFIG_CRD = crd_manifest("operator.openshift.io", "ExternalSecretsConfig", ("v1alpha1",), namespaced=False)
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def parse_duration(text: str) -> float:
    """Go's duration syntax as ESO reads refreshInterval ("1h", "15m", "1h30m", "0")."""
    seconds = 0.0
    for value, unit in DURATION.findall(text or ""):
        seconds += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return seconds


class VaultRefused(Exception):
    pass


class EsoSimulation(Controller):
    name = "external-secrets"

    def __init__(
        self,
        kube: KubeApiServer,
        poll: float = 0.05,
        deploy_seconds: float = 1.0,
        retry_seconds: float = 0.5,
        revalidate_seconds: float = 10.0,
    ) -> None:
        super().__init__(kube, poll)
        self.deploy_seconds = deploy_seconds
        self.retry_seconds = retry_seconds
        self.revalidate_seconds = revalidate_seconds
        self.refusals = 0
        self.vault_requests: list[tuple[str, str]] = []  # (method, path): what ESO asked Vault
        self._checked: dict[str, tuple[Any, float, bool]] = {}  # store uid -> (inputs, when, ok)
        self._synced: dict[str, tuple[str, float, bool]] = {}  # ExternalSecret uid -> (generation, when, ok)
        kube.admission.append(self._webhook)

    # -- knobs for tests --------------------------------------------------------------------------

    def refuse_webhook(self, times: int = 1) -> None:
        """The next `times` writes of ESO objects fail as when the webhook has no endpoints yet."""
        self.refusals = times

    # -- the webhook -------------------------------------------------------------------------------

    def _webhook(self, operation: str, resource: ResourceType, body: dict[str, Any]) -> None:
        if resource.group != GROUP or operation not in ("CREATE", "UPDATE"):
            return
        namespace = self._operand_namespace()
        starting = namespace is not None and not self.deployment_available(WEBHOOK, namespace)
        if self.refusals <= 0 and not starting:
            return
        self.refusals = max(0, self.refusals - 1)
        kind = resource.kind.lower()
        service = f"{WEBHOOK}.{namespace or OPERAND_NAMESPACE}.svc"
        raise ApiError(
            500,
            "InternalError",
            f'Internal error occurred: failed calling webhook "validate.{kind}.external-secrets.io": failed to call '
            f'webhook: Post "https://{service}:443/validate-external-secrets-io-{resource.version}-{kind}'
            f'?timeout=5s": no endpoints available for service "{WEBHOOK}"',
        )

    def _operand_namespace(self) -> str | None:
        for config in self.items(COMMUNITY_CONFIG, "OperatorConfig"):
            return str(config["metadata"]["namespace"])
        if self.items(REDHAT_CONFIG, "ExternalSecretsConfig"):
            return OPERAND_NAMESPACE
        return None

    # -- the controller -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        running = False
        for config in self.items(COMMUNITY_CONFIG, "OperatorConfig"):
            running |= self._operands(config, config["metadata"]["namespace"], "Deployed")
        for config in self.items(REDHAT_CONFIG, "ExternalSecretsConfig"):
            running |= self._operands(config, OPERAND_NAMESPACE, "Ready")
        if not running:
            return
        for store in self.items(API, "ClusterSecretStore") + self.items(API, "SecretStore"):
            self._store(store)
        for external in self.items(API, "ExternalSecret"):
            self._external_secret(external)
        self._collect_garbage()

    def _operands(self, config: dict[str, Any], namespace: str, ready_type: str) -> bool:
        ready = self.age(config) >= self.deploy_seconds
        for name in OPERANDS:
            self.ensure_deployment(name, namespace, available=ready)
        self.store.ensure(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": WEBHOOK, "namespace": namespace},
                "spec": {
                    "ports": [{"port": 443, "targetPort": 10250}],
                    "selector": {"app.kubernetes.io/name": WEBHOOK},
                },
            }
        )
        self.write_status(
            config,
            {"conditions": [condition(ready_type, ready, "InstallSuccessful" if ready else "Installing")]},
        )
        return ready

    # -- stores -------------------------------------------------------------------------------------------

    def _store(self, store: dict[str, Any]) -> None:
        uid = str(store["metadata"]["uid"])
        vault = ((store.get("spec") or {}).get("provider") or {}).get("vault")
        inputs = json.dumps([store.get("spec"), self._auth_inputs(store)], sort_keys=True, default=str)
        previous = self._checked.get(uid)
        if previous and previous[0] == inputs:
            wait = self.revalidate_seconds if previous[2] else self.retry_seconds
            if time.monotonic() - previous[1] < wait:
                return
        if vault is None:
            ok, reason, message = (
                False,
                "InvalidProviderConfig",
                "the lab's ESO simulation plays the vault provider only",
            )
        else:
            try:
                token = self._login(store, vault)
                self._vault(vault, token, "GET", "auth/token/lookup-self", store)
                ok, reason, message = True, "Valid", "store validated"
            except VaultRefused as exc:
                ok, reason, message = False, "ValidationFailed", f"unable to validate store: {exc}"
            except LookupError as exc:
                ok, reason, message = False, "InvalidProviderConfig", str(exc)
        self._checked[uid] = (inputs, time.monotonic(), ok)
        self.write_status(
            store,
            {"conditions": [condition("Ready", ok, reason, message)], "capabilities": "ReadWrite"},
        )

    def _auth_inputs(self, store: dict[str, Any]) -> str:
        """The resourceVersion of the token Secret a store uses, so that a changed token is checked again."""
        auth = ((((store.get("spec") or {}).get("provider") or {}).get("vault") or {}).get("auth")) or {}
        ref = auth.get("tokenSecretRef")
        if not ref:
            return ""
        namespace = ref.get("namespace") or store["metadata"].get("namespace")
        found = self.store.find("v1", "Secret", ref.get("name", ""), namespace)
        return str(found["metadata"]["resourceVersion"]) if found else "missing"

    def _secret_value(self, ref: dict[str, Any], default_namespace: str | None) -> str:
        namespace = ref.get("namespace") or default_namespace
        name = ref.get("name", "")
        found = self.store.find("v1", "Secret", name, namespace)
        if found is None:
            raise LookupError(
                f'cannot get Kubernetes secret "{name}" from namespace "{namespace}": secrets "{name}" not found'
            )
        value = (found.get("data") or {}).get(ref.get("key", ""))
        if value is None:
            raise LookupError(f'cannot find secret data for key: "{ref.get("key", "")}"')
        return base64.b64decode(value).decode()

    def _login(self, store: dict[str, Any], vault: dict[str, Any]) -> str:
        """The Vault token the store's auth gives."""
        auth = vault.get("auth") or {}
        own_namespace = store["metadata"].get("namespace")
        if "tokenSecretRef" in auth:
            return self._secret_value(auth["tokenSecretRef"], own_namespace)
        if "kubernetes" in auth:
            settings = auth["kubernetes"]
            account = settings.get("serviceAccountRef") or {}
            namespace = account.get("namespace") or own_namespace
            try:
                jwt = self.kube.issue_token(
                    str(namespace), account.get("name", ""), tuple(account.get("audiences") or ())
                )
            except ApiError as exc:
                raise LookupError(
                    f"cannot create a token for service account {namespace}/{account.get('name')}: {exc}"
                ) from None
            mount = settings.get("mountPath") or "kubernetes"
            answer = self._vault(
                vault, None, "POST", f"auth/{mount}/login", store, {"role": settings.get("role"), "jwt": jwt}
            )
            return str(answer["auth"]["client_token"])
        raise LookupError("the lab's ESO simulation plays token and kubernetes auth only")

    def _vault(
        self,
        vault: dict[str, Any],
        token: str | None,
        method: str,
        path: str,
        store: dict[str, Any],
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request to Vault as ESO's provider sends it, TLS verified with the store's CA when it has one."""
        import ssl

        server = str(vault.get("server", "")).rstrip("/")
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Vault-Token"] = token
        if vault.get("namespace"):
            headers["X-Vault-Namespace"] = str(vault["namespace"])
        context = None
        if server.startswith("https://"):
            ca = self._ca(vault, store)
            context = ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
        request = urllib.request.Request(  # noqa: S310 - the store's own Vault URL, as ESO calls it
            f"{server}/v1/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
            method=method,
        )
        self.vault_requests.append((method, path))
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:  # noqa: S310
                return dict(json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            try:
                errors = json.loads(exc.read()).get("errors") or []
            except ValueError:
                errors = []
            raise VaultRefused(f"Code: {exc.code}. Errors: {'; '.join(map(str, errors)) or exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise VaultRefused(f"{server}: {getattr(exc, 'reason', exc)}") from None

    def _ca(self, vault: dict[str, Any], store: dict[str, Any]) -> str | None:
        if vault.get("caBundle"):
            return base64.b64decode(vault["caBundle"]).decode()
        provider = vault.get("caProvider")
        if not provider:
            return None
        namespace = provider.get("namespace") or store["metadata"].get("namespace")
        if provider.get("type") == "ConfigMap":
            found = self.store.find("v1", "ConfigMap", provider.get("name", ""), namespace)
            value = ((found or {}).get("data") or {}).get(provider.get("key", ""))
            if value is None:
                raise LookupError(
                    f"cannot find the CA: ConfigMap {namespace}/{provider.get('name')} key {provider.get('key')}"
                )
            return str(value)
        return self._secret_value(provider, namespace)

    # -- ExternalSecrets -----------------------------------------------------------------------------------

    def _external_secret(self, external: dict[str, Any]) -> None:
        spec = external.get("spec") or {}
        metadata = external["metadata"]
        uid, namespace = str(metadata["uid"]), metadata["namespace"]
        target = (spec.get("target") or {}).get("name") or metadata["name"]
        policy = (spec.get("target") or {}).get("creationPolicy") or "Owner"
        generation = str(metadata.get("generation", 1))
        last = self._synced.get(uid)
        if last is not None and last[0] == generation:
            elapsed = time.monotonic() - last[1]
            if last[2]:
                interval = parse_duration(spec.get("refreshInterval", "1h"))
                gone = policy == "Owner" and self.store.find("v1", "Secret", target, namespace) is None
                if not gone and (interval <= 0 or elapsed < interval):
                    return
            elif elapsed < self.retry_seconds:
                return
        try:
            data = self._read(external, spec)
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
            if policy != "None":
                self._write_secret(external, target, data, digest, policy)
        except (VaultRefused, LookupError) as exc:
            self._synced[uid] = (generation, time.monotonic(), False)
            self.write_status(
                external,
                {
                    **(external.get("status") or {}),
                    "conditions": [
                        condition(
                            "Ready", False, "SecretSyncedError", f"could not get secret data from provider: {exc}"
                        )
                    ],
                },
            )
            return
        self._synced[uid] = (generation, time.monotonic(), True)
        self.write_status(
            external,
            {
                "binding": {"name": target},
                "conditions": [condition("Ready", True, "SecretSynced", "secret synced")],
                "refreshTime": now(),
                "syncedResourceVersion": f"{generation}-{digest}",
            },
        )

    def _resolve_store(self, external: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        ref = spec.get("secretStoreRef") or {}
        kind = ref.get("kind") or "SecretStore"
        namespace = external["metadata"]["namespace"] if kind == "SecretStore" else None
        store = self.store.find(API, kind, ref.get("name", ""), namespace)
        if store is None:
            raise LookupError(f'could not get {kind} "{ref.get("name", "")}"')
        if conditions_of(store).get("Ready", {}).get("status") != "True":
            raise LookupError(f'{kind} "{ref.get("name", "")}" is not ready')
        return store

    def _read(self, external: dict[str, Any], spec: dict[str, Any]) -> dict[str, str]:
        store = self._resolve_store(external, spec)
        vault = store["spec"]["provider"]["vault"]
        token = self._login(store, vault)
        data: dict[str, str] = {}
        for item in spec.get("dataFrom") or []:
            extract = item.get("extract")
            if not extract:
                raise LookupError("the lab's ESO simulation plays dataFrom.extract only")
            secret = self._kv(vault, token, store, extract["key"], extract.get("version"))
            data.update({k: _text(v) for k, v in secret.items()})
        for item in spec.get("data") or []:
            ref = item.get("remoteRef") or {}
            secret = self._kv(vault, token, store, ref.get("key", ""), ref.get("version"))
            prop = ref.get("property")
            if prop:
                if prop not in secret:
                    raise LookupError(f"cannot find secret data for key: {prop!r}")
                data[item["secretKey"]] = _text(secret[prop])
            else:
                data[item["secretKey"]] = json.dumps(secret)
        return data

    def _kv(self, vault: dict[str, Any], token: str, store: dict[str, Any], key: str, version: Any) -> dict[str, Any]:
        """A KV secret's data, with ESO's path rules: a key may repeat the mount (and data/ for v2)."""
        mount = str(vault.get("path") or "").strip("/")
        v2 = (vault.get("version") or "v2") == "v2"
        if mount and key.startswith(f"{mount}/"):
            key = key[len(mount) + 1 :]
            if v2 and key.startswith("data/"):
                key = key[len("data/") :]
        elif not mount:
            mount, _, key = key.partition("/")
        path = f"{mount}/data/{key}" if v2 else f"{mount}/{key}"
        if v2 and version:
            path += f"?version={version}"
        try:
            answer = self._vault(vault, token, "GET", path, store)
        except VaultRefused as exc:
            if "Code: 404" in str(exc):
                raise LookupError(f"Secret does not exist: {key}") from None
            raise
        payload = answer.get("data") or {}
        return dict((payload.get("data") if v2 else payload) or {})

    def _write_secret(
        self, external: dict[str, Any], name: str, data: dict[str, str], digest: str, policy: str
    ) -> None:
        namespace = external["metadata"]["namespace"]
        template = (external.get("spec") or {}).get("target", {}).get("template") or {}
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        existing = self.store.find("v1", "Secret", name, namespace)
        if policy == "Merge":
            if existing is None:
                raise LookupError(f'secret "{name}" not found (creationPolicy Merge)')
            secret = {**existing, "data": {**(existing.get("data") or {}), **encoded}}
        else:
            metadata: dict[str, Any] = {
                "name": name,
                "namespace": namespace,
                "labels": {
                    "reconcile.external-secrets.io/managed": "true",
                    **((template.get("metadata") or {}).get("labels") or {}),
                },
                "annotations": {
                    "reconcile.external-secrets.io/data-hash": digest,
                    **((template.get("metadata") or {}).get("annotations") or {}),
                },
            }
            if policy == "Owner":
                metadata["ownerReferences"] = [
                    {
                        "apiVersion": API,
                        "kind": "ExternalSecret",
                        "name": external["metadata"]["name"],
                        "uid": external["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ]
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": metadata,
                "type": template.get("type") or "Opaque",
                "data": encoded,
            }
        resource = self.store.type_of("v1", "Secret")
        if existing is None:
            self.store.create(resource, secret, namespace)
        else:
            secret["metadata"] = {**existing["metadata"], **secret["metadata"]}
            secret["metadata"].pop("resourceVersion", None)
            self.store.replace(resource, namespace, name, secret)

    def _collect_garbage(self) -> None:
        """Secrets owned by an ExternalSecret that is gone go too (the garbage collector's job)."""
        alive = {str(e["metadata"]["uid"]) for e in self.items(API, "ExternalSecret")}
        resource = self.store.type_of("v1", "Secret")
        for secret in self.store.list(resource, None, "reconcile.external-secrets.io/managed=true"):
            owners = [o for o in secret["metadata"].get("ownerReferences") or [] if o.get("kind") == "ExternalSecret"]
            if owners and not any(o.get("uid") in alive for o in owners):
                with contextlib.suppress(ApiError):
                    self.store.delete(resource, secret["metadata"]["namespace"], secret["metadata"]["name"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
