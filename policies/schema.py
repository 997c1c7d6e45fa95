"""Facts about resource types read from the installed provider SDKs (no hand-kept lists)."""

from __future__ import annotations

import importlib
import inspect
from functools import cache


@cache
def is_taggable(type_token: str) -> bool:
    """True when the pulumi-aws resource `type_token` (e.g. `aws:ec2/vpc:Vpc`) takes `tags`."""
    package, module, name = type_token.split(":")
    if package != "aws":
        return False
    try:
        sdk = importlib.import_module(f"pulumi_aws.{module.split('/')[0]}")
    except ImportError:
        return False
    cls = getattr(sdk, name, None)
    init = getattr(cls, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters
