"""Entry point Pulumi runs for `pulumi preview --policy-pack policies`: serves the pack over gRPC.

Only this file builds the `PolicyPack` (its constructor starts the analyzer server and never
returns); everything else imports `policies.registry`.
"""

import sys
from pathlib import Path

# Import the pack as the `policies` package from the repo, not its modules as top-level names.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from soundstack.policies.registry import PACK_NAME, policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="SoundStack controls: AWS FSBP, CIS AWS Foundations v3, PCI DSS v4 and custom",
)
