"""Licensing territories: ISO 3166-1 alpha-2 country codes, the only codes CloudFront knows.

CloudFront's geo restriction takes "a two-letter, uppercase country code" per location ("CloudFront
and MaxMind both use ISO 3166 country codes"), and its `CloudFront-Viewer-Country` header
"contains the two-letter country code for the viewer's country" from the same list. One list
serves the stack config (`edge.allowed_countries`, components/media.py), the catalog's track
territories (set at ingest) and the stream endpoint's check, so a code accepted in one place is
understood in the others.

Two identical copies, because two deployables must each stand alone: this module ships in the
services' Lambda archive (`app_services/core/territories.py`), and the policy pack runs under the
Pulumi CLI with nothing but itself (`policies/territories.py`, also what the components and the
stack config import). tests/policies/test_pack_dependencies.py keeps them byte-identical.

`ISO_3166_ALPHA2` is the 249 officially assigned codes (tzdata's `iso3166.tab`, "current as of
ISO/TC 46 N1108 (2023-04-05)"; tests/app_services/test_territories.py compares it with the
machine's copy when there is one).
"""

from __future__ import annotations

from collections.abc import Iterable

ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 (a table reads as one; 249 quoted strings do not)
)

#: Codes people write that ISO 3166-1 does not assign, and the one they mean.
_USUAL_MISTAKES = {"UK": "GB", "EL": "GR", "EU": "a list of the member states' codes"}


def code_problem(code: object) -> str | None:
    """Why `code` is not an ISO 3166-1 alpha-2 country code as CloudFront takes it, or None."""
    if isinstance(code, str) and code in ISO_3166_ALPHA2:
        return None
    hint = ""
    if isinstance(code, str):
        upper = code.strip().upper()
        if upper in ISO_3166_ALPHA2:
            hint = f' (write it upper-case: "{upper}")'
        elif upper in _USUAL_MISTAKES:
            hint = f" (use {_USUAL_MISTAKES[upper]})"
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code{hint}"


def territory_problems(codes: Iterable[object]) -> list[str]:
    """Every invalid or repeated code of a list, one message each."""
    problems, seen = [], set()
    for code in codes:
        problem = code_problem(code)
        if problem:
            problems.append(problem)
        elif code in seen:
            problems.append(f"{code!r} is listed twice")
        seen.add(code)
    return problems


def parse_territories(text: str) -> list[str]:
    """Codes from a comma- or space-separated list in any case (`"gb, ie"` → `["GB", "IE"]`),
    sorted and unique; ValueError naming every bad code, or when the list is empty."""
    codes = sorted({part.upper() for part in text.replace(",", " ").split()})
    if not codes:
        raise ValueError("names no country; list ISO 3166-1 alpha-2 codes, e.g. GB,IE")
    bad = [p for p in (code_problem(c) for c in codes) if p]
    if bad:
        raise ValueError("; ".join(bad))
    return codes
