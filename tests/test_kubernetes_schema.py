"""Every Kubernetes object the program registers is valid in the cluster's Kubernetes version
(strict OpenAPI schema: no unknown field, required fields present, known kinds only).

Mocks accept any object; the API server does not. Helm values are checked per chart in
tests/components/test_cluster_addons.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_validate import SchemaNotFoundError, ValidationError

from tests.kubernetes_schema import validate_object

#: Kinds the workloads need; each must be among the validated objects.
EXPECTED_KINDS = {"Namespace", "ServiceAccount", "Deployment", "Service",
                  "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"}  # fmt: skip


def kubernetes_objects(synth) -> list[dict[str, Any]]:
    """The registered objects as the provider sends them (Helm releases are charts, not
    objects; their values are checked against the charts)."""
    return [
        r.inputs
        for r in synth.resources
        if r.type.startswith("kubernetes:") and r.type != "kubernetes:helm.sh/v3:Release"
    ]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_kubernetes_object_is_valid_in_the_clusters_version(request, stack):
    objects = kubernetes_objects(request.getfixturevalue(stack))
    assert {o["kind"] for o in objects} >= EXPECTED_KINDS
    for obj in objects:
        validate_object(obj)


def test_the_schema_check_is_strict():
    deployment: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "a", "image": "i"}]}}}}  # fmt: skip
    validate_object(deployment)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    with pytest.raises(ValidationError, match="'readOnlyRootFS' was unexpected"):
        validate_object({**deployment, "spec": {**deployment["spec"], "template": {
            "spec": {"containers": [{**container, "readOnlyRootFS": True}]}}}})  # fmt: skip
    with pytest.raises(ValidationError, match="'name' is a required property"):
        validate_object({**deployment, "spec": {**deployment["spec"], "template": {
            "spec": {"containers": [{"image": "i"}]}}}})  # fmt: skip
    with pytest.raises(ValidationError, match="not of type 'integer'"):
        validate_object({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                         "metadata": {"name": "a"},
                         "spec": {"maxReplicas": "6", "scaleTargetRef": {
                             "apiVersion": "apps/v1", "kind": "Deployment", "name": "a"}}})  # fmt: skip
    with pytest.raises(SchemaNotFoundError):
        validate_object({"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler",
                         "metadata": {"name": "a"}})  # fmt: skip
