import pytest

from soundstack.components.naming import LIMITS, physical_name


def test_short_names_are_project_stack_role():
    assert physical_name("soundstack", "prod", "music") == "soundstack-prod-music"


def test_names_are_lower_case_and_cleaned():
    assert physical_name("SoundStack", "Prod_EU", "Music Files") == "soundstack-prod-eu-music-files"


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_long_names_fit_every_limit_with_a_stable_hash(kind):
    role = "catalog-search-domain-with-a-very-long-role-name" * 3
    name = physical_name("soundstack", "staging", role, kind)
    assert len(name) <= LIMITS[kind]
    assert name == physical_name("soundstack", "staging", role, kind)


def test_truncated_names_differ_when_roles_differ():
    a = physical_name("soundstack", "prod", "catalog-search-a", "opensearch")
    b = physical_name("soundstack", "prod", "catalog-search-b", "opensearch")
    assert a != b
    assert len(a) == len(b) == 28
    assert a.startswith("soundstack-prod-cat-")


def test_unknown_kind_is_an_error_naming_the_kinds():
    with pytest.raises(KeyError, match="s3_bucket"):
        physical_name("soundstack", "prod", "x", "s3-bucket")
