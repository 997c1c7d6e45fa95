"""Strict validation of Kubernetes objects (and of typed parts of Helm values) against the
OpenAPI schema of the cluster's Kubernetes version, as shipped by `kubernetes-validate`.

Strict: unknown fields fail (`additionalProperties: false`), required fields must be present,
and a kind or API version the schema does not know fails rather than being skipped.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
from importlib_resources import files
from referencing import Registry, Resource

from soundstack.components.cluster import AUTOSCALER_KUBERNETES_VERSION

#: The cluster's Kubernetes version (`ClusterArgs.version`).
KUBERNETES_VERSION = AUTOSCALER_KUBERNETES_VERSION
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"


def validate_object(obj: dict[str, Any]) -> None:
    """Raise `kubernetes_validate.ValidationError` (or `SchemaNotFoundError`) unless `obj` is a
    valid object of its kind in KUBERNETES_VERSION."""
    validated = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert validated == KUBERNETES_VERSION, f"validated against {validated}, not the cluster's"


@cache
def _definitions() -> Registry:
    schemas = files("kubernetes_validate") / "kubernetes-json-schema"
    folder = schemas / f"v{KUBERNETES_VERSION}.0-local-strict"
    contents = json.loads((folder / "_definitions.json").read_text())
    return Resource.from_contents(contents) @ Registry()


def validate_definition(value: Any, definition: str) -> None:
    """Raise `jsonschema.ValidationError` unless `value` is a valid `definition`, e.g.
    `io.k8s.api.core.v1.SecurityContext` (for a Helm value that becomes that field)."""
    schema = {"$ref": f"{_DEFINITIONS_ID}#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_definitions())
    validator.validate(value)
