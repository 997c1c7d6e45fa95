"""app_services/core/territories.py: the ISO 3166-1 alpha-2 list and its parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundstack.app_services.core.territories import (
    ISO_3166_ALPHA2,
    code_problem,
    parse_territories,
    territory_problems,
)

TZDATA = Path("/usr/share/zoneinfo/iso3166.tab")


@pytest.mark.skipif(not TZDATA.exists(), reason="no tzdata iso3166.tab on this machine")
def test_the_list_is_the_assigned_codes_tzdata_carries():
    lines = TZDATA.read_text(encoding="utf-8").splitlines()
    assigned = {line.split("\t")[0] for line in lines if line and not line.startswith("#")}
    assert assigned == ISO_3166_ALPHA2


def test_the_list_has_every_assigned_code_and_nothing_else():
    assert len(ISO_3166_ALPHA2) == 249
    assert {"GB", "IE", "FR", "US", "AX", "SS", "XK"} - ISO_3166_ALPHA2 == {
        "XK"
    }  # Kosovo: user-assigned
    assert all(len(c) == 2 and c.isupper() for c in ISO_3166_ALPHA2)


def test_problems_name_the_bad_code_and_the_fix():
    assert code_problem("GB") is None
    assert code_problem("UK") == "'UK' is not an ISO 3166-1 alpha-2 country code (use GB)"
    assert 'write it upper-case: "FR"' in (code_problem("fr") or "")
    assert code_problem(44) == "44 is not an ISO 3166-1 alpha-2 country code"
    assert territory_problems(["GB", "IE", "GB", "ZZ"]) == [
        "'GB' is listed twice",
        "'ZZ' is not an ISO 3166-1 alpha-2 country code",
    ]


def test_metadata_lists_parse_in_any_case_and_separator():
    assert parse_territories("ie, gb gb,FR") == ["FR", "GB", "IE"]
    with pytest.raises(ValueError, match="names no country"):
        parse_territories(" , ")
    with pytest.raises(ValueError, match=r"'EU' is not .*member states"):
        parse_territories("eu")
