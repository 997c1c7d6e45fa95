"""Signed-URL music delivery for Acme's existing site, on SoundStack components: a private,
KMS-encrypted bucket behind CloudFront that serves only URLs signed with Acme's keys, on the
site's own domain (`media.<site>`, certificate validated in its existing hosted zone), with a
web ACL, access logs and a role the site's backend signs URLs with.

The site itself stays where it is: its backend assumes `signer_role_arn` (an ECS task role
here; `signerService` in the config picks another service principal), reads the private key
from `signing_secret_arn` and signs `https://<media_domain>/<object key>` URLs. Create the key
pair with `soundstack signing-key rotate dev --secret-id <signing_secret_arn>` and put the
printed public key into `signingPublicKeys`.

Offline, with no AWS account: `soundstack preview -C examples/media-delivery dev`.
"""

import pulumi

from soundstack.components.base import StackContext
from soundstack.components.cdn import CustomDomain
from soundstack.components.iam import ServiceRole, ServiceRoleArgs
from soundstack.components.media import MediaArgs, MediaDelivery
from soundstack.components.monitoring import AuditTrail, AuditTrailArgs

config = pulumi.Config()
ctx = StackContext(
    project=pulumi.get_project(),
    stack=pulumi.get_stack(),
    environment=config.require("environment"),  # type: ignore[arg-type]
    region=pulumi.Config("aws").require("region"),
    owner=config.require("owner"),
    cost_centre=config.require("costCentre"),
)
domain, zone = config.get("domain"), config.get("hostedZoneId")

# Every stack needs a multi-region trail (policy stack-audit-trail); drop this where an
# organisation trail already covers the account.
AuditTrail("audit", AuditTrailArgs(), ctx)
media = MediaDelivery(
    "media",
    MediaArgs(
        signing_public_keys=config.require_object("signingPublicKeys"),
        domain=CustomDomain(domain, zone) if domain and zone else None,
    ),
    ctx,
)
signer = ServiceRole(
    "site-signer",
    ServiceRoleArgs(services=[config.get("signerService") or "ecs-tasks.amazonaws.com"]),
    ctx,
)
media.grant_sign(signer)

pulumi.export("media_domain", media.domain_name)
pulumi.export("bucket_name", media.bucket_name)
pulumi.export("signing_secret_arn", media.signing_secret_arn)
pulumi.export("signing_key_ids", media.signing_key_ids)
pulumi.export("signer_role_arn", signer.role_arn)
