"""Plays OLM (the Operator Lifecycle Manager of OpenShift) on a cluster's API emulator.

The platform, as an installed OpenShift has it: the CRDs of operators.coreos.com (Subscription,
InstallPlan, ClusterServiceVersion, CatalogSource, OperatorGroup), namespaces
openshift-marketplace (CatalogSources redhat-operators, certified-operators, community-operators,
READY) and openshift-operators (OperatorGroup global-operators).

For a Subscription {channel, name (package), source, sourceNamespace, installPlanApproval}:
- an unknown catalog, package or channel: condition ResolutionFailed True ("constraints not
  satisfiable: ..."); an unhealthy catalog (`catalog_unhealthy`): CatalogSourcesUnhealthy True;
- else an InstallPlan `install-xxxxx` {approval, approved, clusterServiceVersionNames: [csv]}
  (phase RequiresApproval until spec.approved is true when approval is Manual) and
  status.currentCSV, installPlanRef, state UpgradePending, condition InstallPlanPending;
- once approved: the package's CRDs (Established), its operator Deployments, the CSV (phase
  Installing), InstallPlan phase Complete, Subscription status.installedCSV and state
  AtLatestKnown; `csv_seconds` later the CSV is Succeeded and the Deployments Available, or
  Failed (`fail_csv`, or no / two OperatorGroups in the namespace: NoOperatorGroup /
  TooManyOperatorGroups).

The catalog is `CATALOG` (OpenShift GitOps, Red Hat's and the community's External Secrets
operators); `OlmSimulation(catalog=...)` takes another.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from proxshift.lab import argocd_sim
from proxshift.lab.controller import Controller, condition, now
from proxshift.lab.eso_sim import COMMUNITY_CONFIG_CRD, REDHAT_CONFIG_CRD
from proxshift.lab.eso_sim import CRDS as ESO_CRDS
from proxshift.lab.kubeapi import KubeApiServer, crd_manifest

GROUP = "operators.coreos.com"
V1ALPHA1 = f"{GROUP}/v1alpha1"
V1 = f"{GROUP}/v1"
MARKETPLACE = "openshift-marketplace"
GLOBAL_NAMESPACE = "openshift-operators"
CATALOG_SOURCES = ("redhat-operators", "certified-operators", "community-operators", "redhat-marketplace")

OLM_CRDS = (
    crd_manifest(GROUP, "Subscription", ("v1alpha1",)),
    crd_manifest(GROUP, "InstallPlan", ("v1alpha1",)),
    crd_manifest(GROUP, "ClusterServiceVersion", ("v1alpha1",)),
    crd_manifest(GROUP, "CatalogSource", ("v1alpha1",)),
    crd_manifest(GROUP, "OperatorGroup", ("v1", "v1alpha2")),
)


@dataclass(frozen=True)
class Package:
    """An operator in a catalog: its channels (head CSV of each), what its install creates."""

    name: str
    source: str
    channels: dict[str, str]
    default_channel: str
    display_name: str
    crds: tuple[dict[str, Any], ...] = ()
    deployments: tuple[str, ...] = ()
    provider: str = "Red Hat"
    keywords: tuple[str, ...] = field(default_factory=tuple)

    @staticmethod
    def version_of(csv: str) -> str:
        return csv.rsplit(".v", 1)[-1]


CATALOG: dict[str, Package] = {
    package.name: package
    for package in (
        Package(
            "openshift-gitops-operator",
            "redhat-operators",
            {
                "latest": "openshift-gitops-operator.v1.16.1",
                "gitops-1.16": "openshift-gitops-operator.v1.16.1",
                "gitops-1.15": "openshift-gitops-operator.v1.15.3",
            },
            "latest",
            "Red Hat OpenShift GitOps",
            argocd_sim.CRDS,
            ("openshift-gitops-operator-controller-manager",),
        ),
        Package(
            "openshift-external-secrets-operator",
            "redhat-operators",
            {"stable-v1": "external-secrets-operator.v1.0.0", "stable-v1.0": "external-secrets-operator.v1.0.0"},
            "stable-v1",
            "external secrets operator for Red Hat OpenShift",
            (REDHAT_CONFIG_CRD, *ESO_CRDS),
            ("external-secrets-operator-controller-manager",),
        ),
        Package(
            "external-secrets-operator",
            "community-operators",
            {"stable": "external-secrets-operator.v0.11.0", "alpha": "external-secrets-operator.v0.11.0"},
            "stable",
            "External Secrets Operator",
            (COMMUNITY_CONFIG_CRD, *ESO_CRDS),
            ("external-secrets-operator-controller-manager",),
            provider="External Secrets",
        ),
    )
}


class OlmSimulation(Controller):
    name = "olm"

    def __init__(
        self,
        kube: KubeApiServer,
        poll: float = 0.05,
        csv_seconds: float = 1.0,
        catalog: dict[str, Package] | None = None,
    ) -> None:
        super().__init__(kube, poll)
        self.csv_seconds = csv_seconds
        self.catalog = dict(CATALOG if catalog is None else catalog)
        self.failing: dict[str, str] = {}  # package or CSV name -> the message its CSV fails with
        self.unhealthy: set[str] = set()  # CatalogSource names

    # -- knobs for tests --------------------------------------------------------------------------

    def fail_csv(self, package_or_csv: str, message: str = "install timeout") -> None:
        """The package's CSV ends in phase Failed (reason InstallCheckFailed) instead of Succeeded."""
        self.failing[package_or_csv] = message

    def catalog_unhealthy(self, source: str, unhealthy: bool = True) -> None:
        """A CatalogSource stops (or starts again) serving: Subscriptions on it report CatalogSourcesUnhealthy."""
        if unhealthy:
            self.unhealthy.add(source)
        else:
            self.unhealthy.discard(source)

    # -- the controller -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        self.ensure_platform()
        for source in self.items(V1ALPHA1, "CatalogSource"):
            self._catalog_source(source)
        for group in self.items(V1, "OperatorGroup"):
            self._operator_group(group)
        for subscription in self.items(V1ALPHA1, "Subscription"):
            self._subscription(subscription)
        for plan in self.items(V1ALPHA1, "InstallPlan"):
            self._install_plan(plan)
        for csv in self.items(V1ALPHA1, "ClusterServiceVersion"):
            self._csv(csv)

    def ensure_platform(self) -> None:
        """OLM as an installed OpenShift has it (again after the lab recreated the cluster's API)."""
        if not self.store.served(V1ALPHA1, "Subscription"):
            for crd in OLM_CRDS:
                self.store.ensure(crd)
        if self.store.find("v1", "Namespace", MARKETPLACE) is not None:
            return
        self.ensure_namespace(MARKETPLACE)
        self.ensure_namespace(GLOBAL_NAMESPACE)
        for name in CATALOG_SOURCES:
            self.store.ensure(
                {
                    "apiVersion": V1ALPHA1,
                    "kind": "CatalogSource",
                    "metadata": {"name": name, "namespace": MARKETPLACE},
                    "spec": {
                        "sourceType": "grpc",
                        "image": f"registry.redhat.io/redhat/{name}-index:v4.19",
                        "displayName": name.replace("-", " ").title(),
                        "publisher": "Red Hat",
                    },
                }
            )
        self.store.ensure(
            {
                "apiVersion": V1,
                "kind": "OperatorGroup",
                "metadata": {"name": "global-operators", "namespace": GLOBAL_NAMESPACE},
                "spec": {"upgradeStrategy": "Default"},
            }
        )

    def _catalog_source(self, source: dict[str, Any]) -> None:
        state = "TRANSIENT_FAILURE" if source["metadata"]["name"] in self.unhealthy else "READY"
        self.write_status(
            source,
            {
                "connectionState": {
                    "address": f"{source['metadata']['name']}.{MARKETPLACE}.svc:50051",
                    "lastObservedState": state,
                },
                "registryService": {"protocol": "grpc", "serviceName": source["metadata"]["name"], "port": "50051"},
            },
        )

    def _operator_group(self, group: dict[str, Any]) -> None:
        spec = group.get("spec") or {}
        targets = spec.get("targetNamespaces") or [""]
        self.write_status(group, {"namespaces": targets, "lastUpdated": now()})

    # -- Subscription -> InstallPlan ---------------------------------------------------------------------

    def _resolve(self, subscription: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """The CSV the subscription gets, or None and the failing condition."""
        spec = subscription.get("spec") or {}
        name = subscription["metadata"]["name"]
        source, source_ns = spec.get("source", ""), spec.get("sourceNamespace", "")
        package_name, channel = spec.get("name", ""), spec.get("channel")
        catalog = self.store.find(V1ALPHA1, "CatalogSource", source, source_ns) if source and source_ns else None
        if catalog is None:
            return None, condition(
                "ResolutionFailed",
                True,
                "ConstraintsNotSatisfiable",
                f"constraints not satisfiable: no operators found from catalog {source} in namespace {source_ns} "
                f"referenced by subscription {name}, subscription {name} exists",
            )
        if source in self.unhealthy:
            return None, condition(
                "CatalogSourcesUnhealthy",
                True,
                "UnhealthyCatalogSourceFound",
                f"targeted catalogsource {source_ns}/{source} unhealthy",
            )
        package = self.catalog.get(package_name)
        if package is None or package.source != source:
            return None, condition(
                "ResolutionFailed",
                True,
                "ConstraintsNotSatisfiable",
                f"constraints not satisfiable: no operators found in package {package_name} in the catalog "
                f"referenced by subscription {name}, subscription {name} exists",
            )
        channel = channel or package.default_channel
        if channel not in package.channels:
            return None, condition(
                "ResolutionFailed",
                True,
                "ConstraintsNotSatisfiable",
                f"constraints not satisfiable: no operators found in channel {channel} of package {package_name} "
                f"in the catalog referenced by subscription {name}, subscription {name} exists",
            )
        return package.channels[channel], {}

    def _subscription(self, subscription: dict[str, Any]) -> None:
        status = dict(subscription.get("status") or {})
        namespace = subscription["metadata"]["namespace"]
        source = (subscription.get("spec") or {}).get("source", "")
        healthy = condition(
            "CatalogSourcesUnhealthy", False, "AllCatalogSourcesHealthy", "all available catalogsources are healthy"
        )
        if status.get("installPlanRef"):
            plan = self.store.find(V1ALPHA1, "InstallPlan", status["installPlanRef"]["name"], namespace)
            if plan is not None:
                self._follow_plan(subscription, plan)
            return
        csv, failure = self._resolve(subscription)
        if csv is None:
            conditions = [failure] if failure["type"] == "CatalogSourcesUnhealthy" else [healthy, failure]
            self.write_status(
                subscription,
                {
                    "catalogHealth": self._catalog_health(source, namespace),
                    "conditions": conditions,
                    "lastUpdated": now(),
                },
            )
            return
        spec = subscription.get("spec") or {}
        approval = spec.get("installPlanApproval") or "Automatic"
        plan = self.store.create(
            self.store.type_of(V1ALPHA1, "InstallPlan"),
            {
                "apiVersion": V1ALPHA1,
                "kind": "InstallPlan",
                "metadata": {
                    "name": f"install-{uuid.uuid4().hex[:5]}",
                    "namespace": namespace,
                    "ownerReferences": [_owner(subscription)],
                    "labels": {f"operators.coreos.com/{spec.get('name')}.{namespace}": ""},
                },
                "spec": {
                    "approval": approval,
                    "approved": approval == "Automatic",
                    "clusterServiceVersionNames": [csv],
                    "generation": 1,
                },
            },
        )
        self.write_status(
            plan,
            {
                "phase": "Installing" if approval == "Automatic" else "RequiresApproval",
                "catalogSources": [source],
                "bundleLookups": [],
            },
        )
        reference = {
            "apiVersion": V1ALPHA1,
            "kind": "InstallPlan",
            "name": plan["metadata"]["name"],
            "namespace": namespace,
            "uid": plan["metadata"]["uid"],
            "resourceVersion": plan["metadata"]["resourceVersion"],
        }
        self.write_status(
            subscription,
            {
                "currentCSV": csv,
                "installPlanGeneration": 1,
                "installPlanRef": reference,
                "installplan": {
                    "apiVersion": V1ALPHA1,
                    "kind": "InstallPlan",
                    "name": plan["metadata"]["name"],
                    "uuid": plan["metadata"]["uid"],
                },
                "state": "UpgradePending",
                "catalogHealth": self._catalog_health(source, namespace),
                "conditions": [
                    healthy,
                    condition(
                        "InstallPlanPending",
                        True,
                        "Installing" if approval == "Automatic" else "RequiresApproval",
                    ),
                ],
                "lastUpdated": now(),
            },
        )

    def _catalog_health(self, source: str, namespace: str) -> list[dict[str, Any]]:
        del namespace
        return [
            {
                "catalogSourceRef": {
                    "apiVersion": V1ALPHA1,
                    "kind": "CatalogSource",
                    "name": name,
                    "namespace": MARKETPLACE,
                },
                "healthy": name not in self.unhealthy,
                "lastUpdated": now(),
            }
            for name in CATALOG_SOURCES
            if name == source or not source
        ]

    def _follow_plan(self, subscription: dict[str, Any], plan: dict[str, Any]) -> None:
        """Subscription status follows its InstallPlan: installedCSV once the CSV is there."""
        status = dict(subscription.get("status") or {})
        phase = (plan.get("status") or {}).get("phase")
        healthy = condition(
            "CatalogSourcesUnhealthy", False, "AllCatalogSourcesHealthy", "all available catalogsources are healthy"
        )
        if phase == "Complete":
            status.update(
                installedCSV=status.get("currentCSV"),
                state="AtLatestKnown",
                conditions=[healthy],
                lastUpdated=now(),
            )
        elif phase == "RequiresApproval":
            status.update(
                state="UpgradePending",
                conditions=[healthy, condition("InstallPlanPending", True, "RequiresApproval")],
            )
        else:
            return
        self.write_status(subscription, status)

    # -- InstallPlan -> CRDs, Deployments, CSV ----------------------------------------------------------

    def _install_plan(self, plan: dict[str, Any]) -> None:
        spec = plan.get("spec") or {}
        phase = (plan.get("status") or {}).get("phase")
        if phase == "Complete":
            return
        if not spec.get("approved"):
            if phase != "RequiresApproval":
                self.write_status(plan, {**(plan.get("status") or {}), "phase": "RequiresApproval"})
            return
        namespace = plan["metadata"]["namespace"]
        for csv_name in spec.get("clusterServiceVersionNames") or []:
            package = self._package_of(csv_name)
            if package is None:
                continue
            for crd in package.crds:
                self.store.ensure(crd)
            for name in package.deployments:
                self.ensure_deployment(name, namespace, available=False)
            if self.store.find(V1ALPHA1, "ClusterServiceVersion", csv_name, namespace) is None:
                self._create_csv(package, csv_name, namespace)
        self.write_status(plan, {**(plan.get("status") or {}), "phase": "Complete"})

    def _package_of(self, csv_name: str) -> Package | None:
        for package in self.catalog.values():
            if csv_name in package.channels.values():
                return package
        return None

    def _create_csv(self, package: Package, csv_name: str, namespace: str) -> None:
        owned = []
        for crd in package.crds:
            spec = crd["spec"]
            served = [v["name"] for v in spec["versions"] if v.get("served", True)]
            owned.append({"name": crd["metadata"]["name"], "kind": spec["names"]["kind"], "version": served[0]})
        csv = self.store.create(
            self.store.type_of(V1ALPHA1, "ClusterServiceVersion"),
            {
                "apiVersion": V1ALPHA1,
                "kind": "ClusterServiceVersion",
                "metadata": {
                    "name": csv_name,
                    "namespace": namespace,
                    "labels": {f"operators.coreos.com/{package.name}.{namespace}": ""},
                    "annotations": {"olm.operatorNamespace": namespace},
                },
                "spec": {
                    "displayName": package.display_name,
                    "version": Package.version_of(csv_name),
                    "provider": {"name": package.provider},
                    "customresourcedefinitions": {"owned": owned},
                    "install": {
                        "strategy": "deployment",
                        "spec": {"deployments": [{"name": name} for name in package.deployments]},
                    },
                    "installModes": [
                        {"type": "OwnNamespace", "supported": True},
                        {"type": "SingleNamespace", "supported": True},
                        {"type": "MultiNamespace", "supported": False},
                        {"type": "AllNamespaces", "supported": True},
                    ],
                },
            },
        )
        self.write_status(csv, _csv_status("Pending", "RequirementsUnknown", "requirements not yet checked"))

    def _csv(self, csv: dict[str, Any]) -> None:
        phase = (csv.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        name, namespace = csv["metadata"]["name"], csv["metadata"]["namespace"]
        groups = self.items(V1, "OperatorGroup", namespace)
        if len(groups) != 1:
            reason, message = (
                ("NoOperatorGroup", "csv in namespace with no operatorgroups")
                if not groups
                else (
                    "TooManyOperatorGroups",
                    "csv created in namespace with multiple operatorgroups, can't pick one automatically",
                )
            )
            self.write_status(csv, _csv_status("Failed", reason, message))
            return
        package = self._package_of(name)
        deployments = package.deployments if package else ()
        if self.age(csv) < self.csv_seconds:
            waiting = deployments[0] if deployments else name
            self.write_status(
                csv,
                _csv_status(
                    "Installing",
                    "InstallWaiting",
                    f'installing: waiting for deployment {waiting} to become ready: deployment "{waiting}" not '
                    "available: Deployment does not have minimum availability.",
                ),
            )
            return
        failing = self.failing.get(name) or (self.failing.get(package.name) if package else None)
        if failing:
            self.write_status(csv, _csv_status("Failed", "InstallCheckFailed", failing))
            return
        for deployment in deployments:
            self.ensure_deployment(deployment, namespace, available=True)
        self.write_status(
            csv, _csv_status("Succeeded", "InstallSucceeded", "install strategy completed with no errors")
        )


def _csv_status(phase: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "phase": phase,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now(),
        "lastTransitionTime": now(),
        "conditions": [{"phase": phase, "reason": reason, "message": message, "lastTransitionTime": now()}],
        "requirementStatus": [],
    }


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "blockOwnerDeletion": False,
        "controller": False,
    }
