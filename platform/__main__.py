"""The SoundStack estate: one Pulumi program composed from `components/` for the selected stack.

Run by `pulumi up` (Pulumi.yaml: `main: platform/`) and, under mocks, by `soundstack preview`.
This directory is not a Python package on purpose: `platform` is a standard-library module.
Sections follow the order resources depend on each other: foundation, edge and identity,
data and messaging, compute and API, then analytics, observability and delivery.
"""

import pulumi

from components.kms import EncryptionKey, EncryptionKeyArgs
from components.network import Network, NetworkArgs
from stacks.runtime import load_from_pulumi, stack_context

config = load_from_pulumi()  # fails here, before any resource, on a bad config
ctx = stack_context(config)

# --- Foundation: keys and network ----------------------------------------------------------
logs_key = EncryptionKey(
    "logs",
    EncryptionKeyArgs(
        description=f"CloudWatch Logs of {ctx.project}-{ctx.stack}",
        service_principals=[f"logs.{config.region}.amazonaws.com"],
    ),
    ctx,
)
network = Network(
    "network",
    NetworkArgs(
        cidr=config.network.cidr,
        az_count=config.network.az_count,
        nat_gateways=config.network.nat_gateways,
        flow_log_retention_days=config.network.flow_log_retention_days,
        kms_key_arn=logs_key.arn,
    ),
    ctx,
)

# --- Identity, media delivery, web hosting and edge protection ------------------------------

# --- Data tier and messaging -----------------------------------------------------------------

# --- Compute: service functions, API Gateway, EKS -------------------------------------------

# --- Analytics, observability and delivery --------------------------------------------------

# --- Stack outputs ---------------------------------------------------------------------------
pulumi.export("environment", config.environment)
pulumi.export("region", config.region)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("isolated_subnet_ids", network.isolated_subnet_ids)
pulumi.export("logs_kms_key_arn", logs_key.arn)
