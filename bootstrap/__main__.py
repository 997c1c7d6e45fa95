"""The bootstrap program: the deploy role of every stack of this account (components/bootstrap.py).

Run once per account and region by an administrator, before the first stack:
`pulumi -C bootstrap up --stack account`. Its own state holds nothing but IAM. Each stack's file
(stacks/Pulumi.<stack>.yaml) says which other Regions its deploy role must reach (the replica
Region): run the bootstrap again after changing `resilience.replica_region`.
"""

import pulumi

from soundstack.components.base import StackContext
from soundstack.components.bootstrap import GLOBAL_REGION, DeployRoles, DeployRolesArgs
from soundstack.stacks.loader import load_stack

config = pulumi.Config("soundstack-bootstrap")
ctx = StackContext(
    project=config.get("project") or "soundstack",
    stack=pulumi.get_stack(),
    environment="prod",  # account-wide: held to the strictest tags and defaults
    region=pulumi.Config("aws").require("region"),
    owner=config.require("owner"),
    cost_centre=config.require("cost_centre"),
)
stacks = config.require_object("stacks")
roles = DeployRoles(
    "deploy-roles",
    DeployRolesArgs(
        stacks=stacks,
        admin_principal_arns=config.require_object("admin_principal_arns"),
        extra_regions={
            stack: [r for r in load_stack(stack).regions() if r not in (ctx.region, GLOBAL_REGION)]
            for stack in stacks
        },
    ),
    ctx,
)
pulumi.export("deploy_role_arns", roles.role_arns)
