"""Lambda code signing: an AWS Signer profile and the code signing config every function uses.

Lambda checks a function's code package (and each layer: "When you enable code signing for a
function, any layers that you add to the function must also be signed by an allowed signing
profile") against the config's allowed profiles at deployment. `UntrustedArtifactOnDeployment`
decides what a failed check does: `Warn` — "Lambda allows the deployment of the code package,
but issues a warning" (CloudWatch metric `SignatureValidationErrors`, CloudTrail) — or
`Enforce` — "Lambda issues a warning (same as the Warn action) and blocks the deployment of the
code package".

Unsigned, `ServiceFunction` uploads its zip directly (Pulumi's `code=` archive) and the layer
from an S3 object, so `Enforce` would block every `pulumi up`: this component refuses it
(`CodeSigningArgs`) unless the artefacts are signed. Signed means the stack's deploy runner ran
`soundstack sign-lambda` (soundstack/lambda_artefacts.py): it zipped the code and the layer,
had Signer sign both with this profile, and recorded where the signed objects are
(`SignedCode`, SSM `lookups.signed_code_parameter`); the program then deploys every function and
the layer from those objects. README: "Lambda code signing".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from soundstack.components.base import Component, StackContext

#: The Signer platform for Lambda zip packages.
LAMBDA_PLATFORM = "AWSLambda-SHA384-ECDSA"
#: Signer's default, and longest, signature validity period (135 months).
MAX_VALIDITY_MONTHS = 135


@dataclass(frozen=True)
class SignedCode:
    """Where Signer put the signed Lambda code and layer zips (one bucket, the layer's assets
    bucket), as the deploy runner recorded them."""

    bucket: str
    code_key: str
    layer_key: str

    @classmethod
    def from_record(cls, record: str) -> SignedCode:
        """Parse the SSM record; a malformed one is an error naming the parameter's fix."""
        try:
            found = json.loads(record)
            return cls(str(found["bucket"]), str(found["code_key"]), str(found["layer_key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"the signed-code record is not what `soundstack sign-lambda` writes ({exc}); "
                "run the deploy runner again (it rewrites the record)"
            ) from None


@dataclass
class CodeSigningArgs:
    """What a failed signature check does (`Warn`), and how long a signature stays valid."""

    untrusted_artifact_on_deployment: Literal["Warn", "Enforce"] = "Warn"
    #: Months a signature made with the profile stays valid (Lambda's "Expiry" check).
    signature_validity_months: int = 12
    #: True only once every function and layer is deployed from a Signer-signed S3 object.
    artefacts_signed: bool = False

    def __post_init__(self) -> None:
        if self.untrusted_artifact_on_deployment == "Enforce" and not self.artefacts_signed:
            raise ValueError(
                "CodeSigningArgs.untrusted_artifact_on_deployment=Enforce blocks every deployment "
                "of unsigned code, and the functions' zips are uploaded unsigned (Pulumi's direct "
                "upload); use Warn until the pipeline signs them (README: Lambda code signing)"
            )
        if not 1 <= self.signature_validity_months <= MAX_VALIDITY_MONTHS:
            raise ValueError(
                f"CodeSigningArgs.signature_validity_months={self.signature_validity_months}: "
                "Signer allows 1 "
                f"to {MAX_VALIDITY_MONTHS}"
            )


class CodeSigning(Component):
    """A Signer signing profile for Lambda and a code signing config that trusts only it."""

    TYPE = "soundstack:signing:CodeSigning"

    def __init__(
        self,
        name: str,
        args: CodeSigningArgs,
        ctx: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, ctx, opts)
        # Profile names match ^[a-zA-Z0-9_]{2,} (64 at most). A deleted profile is only
        # canceled: it "is deleted two years after cancelation" and keeps its name until then,
        # so the provider generates a unique suffix (a prefix of at most 38 characters).
        prefix = re.sub(r"[^A-Za-z0-9_]", "_", self.physical_name("", "lambda"))[:37] + "_"
        self.profile = aws.signer.SigningProfile(
            self.child_name("profile"),
            name_prefix=prefix,
            platform_id=LAMBDA_PLATFORM,
            signature_validity_period={"type": "MONTHS", "value": args.signature_validity_months},
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.config = aws.lambda_.CodeSigningConfig(
            self.child_name("config"),
            description=f"{ctx.project}-{ctx.stack}: code signed by {prefix}*",
            allowed_publishers={"signing_profile_version_arns": [self.profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": args.untrusted_artifact_on_deployment},
            tags=self.tags(),
            opts=self.child_opts(),
        )
        self.arn: pulumi.Output[str] = self.config.arn
        #: What `soundstack sign-lambda` signs with (stack outputs `code_signing_profile*`).
        self.profile_name: pulumi.Output[str] = self.profile.name
        self.profile_version_arn: pulumi.Output[str] = self.profile.version_arn
        self.register_outputs({"arn": self.arn, "profile_name": self.profile_name})
