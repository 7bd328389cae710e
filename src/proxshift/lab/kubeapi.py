"""A small stateful Kubernetes API server, enough for the official client, kubectl and proxshift.

It serves discovery, CRUD with 201/404/409 Status errors, list with labelSelector, PUT, merge /
JSON / apply patches, the status subresource (and CertificateSigningRequests' approval), object
metadata, finalizers and namespace cascade. The lab and the tests play the controllers (installer,
ACM hub, OLM, Argo CD, External Secrets, joining hosts) through `Store`; admission hooks on the
server play webhooks for API clients.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxshift.lab.serving import BackgroundServer, CertificateFiles


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN = [
    ResourceType("", "v1", "namespaces", "Namespace", False),
    ResourceType("", "v1", "nodes", "Node", False),
    ResourceType("", "v1", "configmaps", "ConfigMap", True),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True),
    ResourceType("", "v1", "pods", "Pod", True),
    ResourceType("", "v1", "services", "Service", True),
    ResourceType("apps", "v1", "deployments", "Deployment", True),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    ResourceType("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False),
    ResourceType("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    ResourceType("config.openshift.io", "v1", "clusterversions", "ClusterVersion", False),
    ResourceType("config.openshift.io", "v1", "clusteroperators", "ClusterOperator", False),
    ResourceType("config.openshift.io", "v1", "apiservers", "APIServer", False),
    ResourceType("operator.openshift.io", "v1", "ingresscontrollers", "IngressController", True),
    ResourceType("route.openshift.io", "v1", "routes", "Route", True),
    ResourceType("cluster.open-cluster-management.io", "v1", "managedclusters", "ManagedCluster", False),
    ResourceType("agent.open-cluster-management.io", "v1", "klusterletaddonconfigs", "KlusterletAddonConfig", True),
    ResourceType("addon.open-cluster-management.io", "v1alpha1", "managedclusteraddons", "ManagedClusterAddOn", True),
]


# Subresources beyond status, by plural: what discovery lists and `Store.replace` honours.
SUBRESOURCES = {"certificatesigningrequests": ("approval",)}


def crd_manifest(
    group: str,
    kind: str,
    versions: tuple[str, ...] = ("v1",),
    namespaced: bool = True,
    plural: str | None = None,
    unserved: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A CustomResourceDefinition with an open schema and a status subresource; the first version is
    the storage version; `unserved` versions are listed but not served (as ESO 0.17 lists v1beta1)."""
    plural = plural or f"{kind.lower()}s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced" if namespaced else "Cluster",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": version,
                    "served": version not in unserved,
                    "storage": index == 0,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
                for index, version in enumerate(versions)
            ],
        },
    }


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    """A matcher for a labelSelector: `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (absent), comma-separated."""
    terms: list[tuple[str, str, str]] = []
    for part in (p.strip() for p in selector.split(",")):
        if "!=" in part:
            key, value = part.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in part:
            key, value = part.replace("==", "=").split("=", 1)
            terms.append(("=", key.strip(), value.strip()))
        elif part.startswith("!"):
            terms.append(("absent", part[1:].strip(), ""))
        elif part:
            terms.append(("exists", part, ""))

    def matches(labels: dict[str, str]) -> bool:
        for op, key, value in terms:
            found = labels.get(key)
            if (
                (op == "=" and found != value)
                or (op == "!=" and found == value)
                or (op == "exists" and key not in labels)
                or (op == "absent" and key in labels)
            ):
                return False
        return True

    return matches


def _fold_string_data(obj: dict[str, Any]) -> None:
    """A Secret's stringData goes into data, base64-encoded, as the API server writes it."""
    import base64

    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 add / replace / remove (what clients send to Kubernetes)."""
    document = copy.deepcopy(target)
    for op in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        parent = document
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op["op"] == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                parent[last] = op["value"]
        elif op["op"] == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
        else:
            raise ApiError(422, "Invalid", f"unsupported JSON patch op {op['op']}")
    return document


class Store:
    """The objects, keyed by (group, plural, namespace, name); thread-safe for controllers."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._versions = itertools.count(1)
        for resource in BUILTIN:
            self.register(resource)
        for namespace in ("default", "kube-system"):
            self.create(self.type_of("v1", "Namespace"), {"metadata": {"name": namespace}})

    def register(self, resource: ResourceType) -> None:
        with self.lock:
            self.types[(resource.group, resource.version, resource.plural)] = resource

    def type_of(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        for resource in self.types.values():
            if (resource.group, resource.version, resource.kind) == (group, version, kind):
                return resource
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({api_version} {kind})")

    def _key(self, resource: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str, str]:
        return (resource.group, resource.plural, (namespace or "") if resource.namespaced else "", name)

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            found = self.objects.get(self._key(resource, namespace, name))
            if found is None:
                raise ApiError(404, "NotFound", f'{resource.plural}.{resource.group or "core"} "{name}" not found')
            return copy.deepcopy(found)

    def find(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.get(self.type_of(api_version, kind), namespace, name)
        except ApiError:
            return None

    def list(self, resource: ResourceType, namespace: str | None, selector: str = "") -> list[dict[str, Any]]:
        matches = label_selector(selector)
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (group, plural, ns, _), obj in sorted(self.objects.items())
                if (group, plural) == (resource.group, resource.plural)
                and (namespace in (None, "") or ns == namespace)
                and matches(obj["metadata"].get("labels") or {})
            ]
        return items

    def create(self, resource: ResourceType, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        name = metadata.get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        if resource.namespaced:
            namespace = namespace or metadata.get("namespace") or "default"
            metadata["namespace"] = namespace
        with self.lock:
            if (
                resource.namespaced
                and self._key(self.type_of("v1", "Namespace"), None, str(namespace)) not in self.objects
            ):
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
            key = self._key(resource, namespace, name)
            if key in self.objects:
                raise ApiError(
                    409, "AlreadyExists", f'{resource.plural}.{resource.group or "core"} "{name}" already exists'
                )
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            if resource.kind == "Secret":
                _fold_string_data(obj)
            metadata.update(
                uid=str(uuid.uuid4()), creationTimestamp=_now(), resourceVersion=str(next(self._versions)), generation=1
            )
            if resource.kind == "Namespace":
                obj.setdefault("status", {"phase": "Active"})
            self.objects[key] = obj
            if resource.kind == "CustomResourceDefinition":
                self._register_crd(obj)
            return copy.deepcopy(obj)

    def _register_crd(self, crd: dict[str, Any]) -> None:
        """Serve the CRD's served versions (as the API server does; a version with served: false is not)."""
        spec = crd.get("spec", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            self.register(
                ResourceType(
                    spec["group"],
                    version["name"],
                    spec["names"]["plural"],
                    spec["names"]["kind"],
                    spec.get("scope") == "Namespaced",
                )
            )
        crd["status"] = {
            "conditions": [
                {"type": "Established", "status": "True", "lastTransitionTime": _now()},
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": _now()},
            ]
        }

    def replace(
        self, resource: ResourceType, namespace: str | None, name: str, body: dict[str, Any], subresource: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            key = self._key(resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise ApiError(404, "NotFound", f'{resource.plural} "{name}" not found')
            wanted = body.get("metadata", {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been modified',
                )
            obj = copy.deepcopy(body)
            if subresource == "status":
                obj = {**copy.deepcopy(current), "status": copy.deepcopy(body.get("status"))}
            elif subresource == "approval":
                # As the API server: only the conditions change (Approved / Denied), nothing else.
                status = {**(current.get("status") or {}), "conditions": (body.get("status") or {}).get("conditions")}
                obj = {**copy.deepcopy(current), "status": copy.deepcopy(status)}
            elif subresource:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({subresource})")
            else:
                obj["status"] = copy.deepcopy(current.get("status")) if "status" not in body else obj["status"]
                if obj.get("spec") != current.get("spec"):
                    current["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
            metadata = obj.setdefault("metadata", {})
            for keep in ("uid", "creationTimestamp", "generation", "namespace", "name", "deletionTimestamp"):
                if keep in current["metadata"]:
                    metadata[keep] = current["metadata"][keep]
            metadata["resourceVersion"] = str(next(self._versions))
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            if resource.kind == "Secret":
                _fold_string_data(obj)
            self.objects[key] = obj
            if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
                self._remove(resource, key)
            return copy.deepcopy(obj)

    def patch(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        content_type: str,
        subresource: str = "",
    ) -> dict[str, Any]:
        with self.lock:
            try:
                current = self.get(resource, namespace, name)
            except ApiError:
                if "apply-patch" not in content_type:
                    raise
                return self.create(resource, patch, namespace)
            patched = json_patch if "json-patch" in content_type else merge_patch
            updated = patched(current, patch)
            updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self.replace(resource, namespace, name, updated, subresource)

    def delete(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            key = self._key(resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise ApiError(404, "NotFound", f'{resource.plural} "{name}" not found')
            if current["metadata"].get("finalizers"):
                current["metadata"].setdefault("deletionTimestamp", _now())
                return copy.deepcopy(current)
            self._remove(resource, key)
            return copy.deepcopy(current)

    def _remove(self, resource: ResourceType, key: tuple[str, str, str, str]) -> None:
        removed = self.objects.pop(key, None)
        if resource.kind == "Namespace":
            for other in [k for k in self.objects if k[2] == key[3]]:
                self.objects.pop(other, None)
        if resource.kind == "CustomResourceDefinition" and removed is not None:
            spec = removed.get("spec", {})
            plural = spec.get("names", {}).get("plural")
            for version in spec.get("versions", []):
                self.types.pop((spec.get("group", ""), version.get("name", ""), plural), None)
            for other in [k for k in self.objects if k[:2] == (spec.get("group"), plural)]:
                self.objects.pop(other, None)

    # -- conveniences for the controllers the lab and tests play --------------------------------

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or merge an object given in full (apiVersion, kind, metadata)."""
        resource = self.type_of(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        return self.patch(resource, metadata.get("namespace"), metadata["name"], obj, "application/apply-patch+yaml")

    def set_status(
        self, api_version: str, kind: str, name: str, status: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Merge `status` into the object's status."""
        resource = self.type_of(api_version, kind)
        self.patch(resource, namespace, name, {"status": status}, "application/merge-patch+json", "status")

    def ensure(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the object unless one of its name exists; either way, return what is stored."""
        metadata = obj["metadata"]
        found = self.find(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
        if found is not None:
            return found
        resource = self.type_of(obj["apiVersion"], obj["kind"])
        try:
            return self.create(resource, obj, metadata.get("namespace"))
        except ApiError as exc:
            if exc.code != 409:
                raise
            return self.get(resource, metadata.get("namespace"), metadata["name"])

    def served(self, api_version: str, kind: str) -> bool:
        try:
            self.type_of(api_version, kind)
        except ApiError:
            return False
        return True


Admission = Callable[[str, ResourceType, dict[str, Any]], None]
"""A validating webhook: called with the operation (CREATE, UPDATE, DELETE), the resource type and the
request's object (the patch, for PATCH) before an API client's write; raises ApiError to refuse it."""


class KubeApiServer:
    """The emulator on a loopback port over HTTPS, with a bearer token.

    `admission` hooks see every write an API client sends (not the simulated controllers' own writes).
    Service accounts get tokens (JWTs signed by this server) from TokenRequest
    (`POST .../serviceaccounts/<name>/token`) or `issue_token`; those tokens are accepted as bearer
    tokens (with every right: there is no RBAC here) and TokenReview (`POST
    /apis/authentication.k8s.io/v1/tokenreviews`) tells who they belong to, as Vault's kubernetes
    auth asks. `/readyz` (and `/livez`, `/healthz`) answer ok, or, while `not_ready` names checks,
    500 with those checks failing, as the real API server's health endpoints do.
    """

    def __init__(self, tls: CertificateFiles, token: str) -> None:
        self.store = Store()
        self.token = token
        self.tls = tls
        self.available = True
        self.not_ready: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.admission: list[Admission] = []
        self.service_account_tokens: dict[str, dict[str, Any]] = {}
        self._signing_key: Any = None
        self.server = BackgroundServer(self._app(), tls)

    def issue_token(self, namespace: str, name: str, audiences: tuple[str, ...] = (), seconds: int = 3600) -> str:
        """A token for ServiceAccount namespace/name (which must exist), as TokenRequest hands it out."""
        import base64
        import time

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        account = self.store.get(self.store.type_of("v1", "ServiceAccount"), namespace, name)
        if self._signing_key is None:
            self._signing_key = ec.generate_private_key(ec.SECP256R1())
        issued = int(time.time())
        claims = {
            "iss": "https://kubernetes.default.svc",
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": list(audiences) or ["https://kubernetes.default.svc"],
            "iat": issued,
            "nbf": issued,
            "exp": issued + seconds,
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
            },
        }

        def encode(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = encode(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "lab"}).encode())
        payload = encode(json.dumps(claims).encode())
        der = self._signing_key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        token = f"{header}.{payload}.{encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        self.service_account_tokens[token] = {
            "namespace": namespace,
            "name": name,
            "uid": account["metadata"]["uid"],
            "audiences": claims["aud"],
            "expires": claims["exp"],
        }
        return token

    def review(self, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
        """A TokenReview's status for `token`."""
        import time

        found = self.service_account_tokens.get(token)
        if found is None or found["expires"] < time.time():
            return {"authenticated": False, "error": "[invalid bearer token, token lookup failed]"}
        if audiences and not set(audiences) & set(found["audiences"]):
            return {"authenticated": False, "error": "[invalid bearer token, token audiences is invalid]"}
        namespace = found["namespace"]
        return {
            "authenticated": True,
            "audiences": audiences or found["audiences"],
            "user": {
                "username": f"system:serviceaccount:{namespace}:{found['name']}",
                "uid": found["uid"],
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            },
        }

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> KubeApiServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def kubeconfig(self, cluster: str = "lab", user: str = "admin") -> str:
        import base64

        ca = base64.b64encode(self.tls.ca.read_bytes()).decode()
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": cluster,
                "clusters": [{"name": cluster, "cluster": {"server": self.url, "certificate-authority-data": ca}}],
                "users": [{"name": user, "user": {"token": self.token}}],
                "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
            },
            indent=2,
        )

    def _app(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def middleware(request: Any, handler: Any) -> Any:
            return await self._middleware(request, handler)

        app = web.Application(middlewares=[middleware])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _middleware(self, request: Any, handler: Any) -> Any:
        from aiohttp import web

        if not self.available:
            request.transport.close()
            raise ConnectionResetError("kube API emulator: down")
        self.requests.append((request.method, request.path_qs))
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer != self.token and self.review(bearer).get("authenticated") is not True:
            return web.json_response(ApiError(401, "Unauthorized", "Unauthorized").body(), status=401)
        try:
            return await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.code)

    def _discovery(self, parts: list[str]) -> dict[str, Any] | None:
        types = list(self.store.types.values())
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for t in types:
                if t.group:
                    groups.setdefault(t.group, [])
                    if t.version not in groups[t.group]:
                        groups[t.group].append(t.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        if len(parts) == 2 and parts[0] == "apis":
            versions = []
            for t in types:
                if t.group == parts[1] and t.version not in versions:
                    versions.append(t.version)
            if not versions:
                return None
            return {
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": parts[1],
                "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{parts[1]}/{versions[0]}", "version": versions[0]},
            }
        if parts in (["api", "v1"],) or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            resources = []
            for t in types:
                if (t.group, t.version) == (group, version):
                    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
                    resources.append(
                        {
                            "name": t.plural,
                            "singularName": t.kind.lower(),
                            "namespaced": t.namespaced,
                            "kind": t.kind,
                            "verbs": verbs,
                        }
                    )
                    resources += [
                        {
                            "name": f"{t.plural}/{sub}",
                            "singularName": "",
                            "namespaced": t.namespaced,
                            "kind": t.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                        for sub in ("status", *SUBRESOURCES.get(t.plural, ()))
                    ]
            if not resources:
                return None
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }
        return None

    def _fixed(self, parts: list[str], request: Any) -> Any:
        """/version and the health endpoints; None for any other path."""
        from aiohttp import web

        if parts[:1] == ["version"]:
            return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0-lab"})
        if parts in (["readyz"], ["livez"], ["healthz"]):
            return self._health(parts[0], "verbose" in request.query)
        return None

    def _health(self, endpoint: str, verbose: bool) -> Any:
        from aiohttp import web

        checks = ["ping", "log", "etcd", "informer-sync", "poststarthook/start-apiextensions-controllers"]
        lines = [f"[+]{c} ok" for c in checks if c not in self.not_ready]
        lines += [f"[-]{c} failed: reason withheld" for c in self.not_ready]
        if self.not_ready:
            return web.Response(status=500, text="\n".join([*lines, f"{endpoint} check failed"]) + "\n")
        return web.Response(text="\n".join([*lines, f"{endpoint} check passed"]) + "\n" if verbose else "ok")

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            discovery = self._discovery(parts)
            if discovery is not None:
                return web.json_response(discovery)
        if (fixed := self._fixed(parts, request)) is not None:
            return fixed
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        resource = self.store.types.get((group, version, rest[0]))
        if resource is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        body = None
        if request.can_read_body:
            text = await request.text()
            if "yaml" in request.content_type:
                import yaml

                body = yaml.safe_load(text)
            else:
                body = json.loads(text) if text else None
        store = self.store
        if request.method == "POST" and resource.kind == "TokenReview":
            spec = (body or {}).get("spec") or {}
            review = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "metadata": {"creationTimestamp": None},
                "spec": spec,
                "status": self.review(str(spec.get("token", "")), spec.get("audiences")),
            }
            return web.json_response(review, status=201)
        if request.method == "POST" and resource.kind == "ServiceAccount" and name and subresource == "token":
            spec = (body or {}).get("spec") or {}
            seconds = int(spec.get("expirationSeconds") or 3600)
            token = self.issue_token(str(namespace), name, tuple(spec.get("audiences") or ()), seconds)
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
            return web.json_response(
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"audiences": spec.get("audiences") or [], "expirationSeconds": seconds},
                    "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
                },
                status=201,
            )
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not subresource:
            operation = {"POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}[request.method]
            if (
                request.method == "PATCH"
                and name
                and store.find(resource.api_version, resource.kind, name, namespace) is None
            ):
                operation = "CREATE"  # server-side apply of a new object
            for hook in list(self.admission):
                hook(operation, resource, body if isinstance(body, dict) else {})
        if request.method == "GET" and name is None:
            items = store.list(resource, namespace, request.query.get("labelSelector", ""))
            return web.json_response(
                {
                    "kind": f"{resource.kind}List",
                    "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": "1"},
                    "items": items,
                }
            )
        if request.method == "GET" and name:
            return web.json_response(store.get(resource, namespace, name))
        if request.method == "POST" and name is None:
            return web.json_response(store.create(resource, body or {}, namespace), status=201)
        if request.method == "PUT" and name:
            return web.json_response(store.replace(resource, namespace, name, body or {}, subresource))
        if request.method == "PATCH" and name:
            return web.json_response(store.patch(resource, namespace, name, body, request.content_type, subresource))
        if request.method == "DELETE" and name:
            return web.json_response(store.delete(resource, namespace, name))
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported here")
