"""Lambda code signing: a Signer profile and a code signing config on every prod function."""

from __future__ import annotations

import json
import re

import pytest

from soundstack.components.signing import CodeSigningArgs, SignedCode
from soundstack.mocks import OFFLINE_RELEASE, offline_signed_code
from soundstack.synth import stack_values, synthesize

FUNCTION = "aws:lambda/function:Function"
CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
PROFILE = "aws:signer/signingProfile:SigningProfile"


def test_prod_signs_every_function_against_one_lambda_profile(prod):
    (profile,) = prod.by_type(PROFILE)
    assert profile.inputs["platformId"] == "AWSLambda-SHA384-ECDSA"
    # A canceled profile keeps its name two years: the name is generated from a prefix.
    assert profile.inputs["namePrefix"] == "soundstack_prod_code_signing_"
    assert re.fullmatch(r"[A-Za-z0-9_]{2,64}", profile.outputs["name"])
    assert profile.inputs["signatureValidityPeriod"] == {"type": "MONTHS", "value": 12}
    (config,) = prod.by_type(CONFIG)
    assert config.inputs["allowedPublishers"] == {
        "signingProfileVersionArns": [profile.outputs["versionArn"]]
    }
    assert config.property_dependencies["allowedPublishers"] == [profile.urn]
    # prod enforces: its deploy runner signed the code and layer (the offline record)
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    functions = prod.by_type(FUNCTION)
    assert len(functions) >= 7
    assert {f.property_dependencies.get("codeSigningConfigArn", [None])[0] for f in functions} == {
        config.urn
    }


def test_dev_has_no_code_signing(dev):
    assert not dev.by_type(CONFIG) and not dev.by_type(PROFILE)
    assert all("codeSigningConfigArn" not in f.inputs for f in dev.by_type(FUNCTION))


def test_enforce_is_refused_while_the_artefacts_are_unsigned():
    with pytest.raises(ValueError, match="blocks every deployment of unsigned code"):
        CodeSigningArgs(untrusted_artifact_on_deployment="Enforce")
    assert CodeSigningArgs("Enforce", artefacts_signed=True).untrusted_artifact_on_deployment
    with pytest.raises(ValueError, match="Signer allows 1 to 135"):
        CodeSigningArgs(signature_validity_months=200)


def test_prod_deploys_every_function_and_the_layer_from_the_signed_objects(prod):
    signed = SignedCode.from_record(offline_signed_code("soundstack", "prod", OFFLINE_RELEASE))
    for fn in prod.by_type(FUNCTION):
        assert (fn.inputs["s3Bucket"], fn.inputs["s3Key"]) == (signed.bucket, signed.code_key)
        assert "code" not in fn.inputs  # nothing Pulumi would upload unsigned
    (layer,) = prod.by_type("aws:lambda/layerVersion:LayerVersion")
    assert (layer.inputs["s3Bucket"], layer.inputs["s3Key"]) == (signed.bucket, signed.layer_key)
    assert not [o for o in prod.by_type("aws:s3/bucketObject:BucketObject") if o.name == "deps-zip"]
    outputs = prod.outputs
    assert outputs["lambda_assets_bucket"] == signed.bucket
    assert outputs["code_signing_profile_name"].startswith("soundstack_prod_code_signing_")


def test_a_first_prod_deploy_uploads_unsigned_code_under_warn():
    config, secret = stack_values("prod")
    first = synthesize("prod", config, secret, release=None)  # an empty account: nothing signed
    assert not first.errors
    (config_,) = first.by_type(CONFIG)
    assert config_.inputs["policies"] == {"untrustedArtifactOnDeployment": "Warn"}
    assert all("code" in f.inputs and "s3Key" not in f.inputs for f in first.by_type(FUNCTION))
    (upload,) = [o for o in first.by_type("aws:s3/bucketObject:BucketObject")
                 if o.name == "deps-zip"]  # fmt: skip
    assert upload.inputs["key"].startswith("lambda-layers/")


def test_staging_warns_and_uploads_its_own_build(staging):
    (config,) = staging.by_type(CONFIG)
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Warn"}
    assert all("code" in f.inputs for f in staging.by_type(FUNCTION))


def test_a_malformed_signed_code_record_is_refused_naming_the_fix():
    with pytest.raises(ValueError, match="run the deploy runner again"):
        SignedCode.from_record(json.dumps({"bucket": "b"}))
