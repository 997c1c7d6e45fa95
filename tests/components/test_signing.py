"""Lambda code signing: a Signer profile and a code signing config on every prod function."""

from __future__ import annotations

import re

import pytest

from soundstack.components.signing import CodeSigningArgs

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
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Warn"}
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
