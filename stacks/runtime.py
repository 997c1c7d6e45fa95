"""Config access for the Pulumi program: the only module that reads the engine's config."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from soundstack.components.base import StackContext
from soundstack.stacks.loader import NAMESPACE, SECRET_KEYS, load_config
from soundstack.stacks.model import PlatformConfig


def load_from_pulumi() -> PlatformConfig:
    """Validate the running stack's config (as `pulumi up` or the offline preview passes it)."""
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = [
        *runtime_config.get_config_secret_keys_env(),
        *(k for k in values if runtime_config.is_config_secret(k)),
    ]
    return load_config(pulumi.get_stack(), values, secret_keys)


def secret(key: str) -> pulumi.Output[str] | None:
    """A secret config value (`pulumi config set --secret soundstack:<key>`), or None if unset."""
    if key not in SECRET_KEYS:
        raise KeyError(f"{key} is not a declared secret; add it to stacks.loader.SECRET_KEYS")
    return pulumi.Config(NAMESPACE).get_secret(key)


def stack_context(config: PlatformConfig) -> StackContext:
    """Naming and tagging context for the running stack."""
    return StackContext(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        environment=config.environment,
        region=config.region,
        owner=config.owner,
        cost_centre=config.cost_centre,
        account_in_bucket_names=not config.legacy_bucket_names,
    )
