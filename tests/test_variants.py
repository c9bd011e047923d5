"""Variants load from YAML, are checked by schema, and name the file and field when broken."""

import shutil

import pytest
import yaml

from pipeline.errors import ConfigError, UnknownVariantError
from pipeline.resources import Resources
from pipeline.variants import load_variants, select
from tests.conftest import VARIANT_IDS


def test_the_four_variants_load_with_their_fixed_ids(variants):
    assert list(variants) == VARIANT_IDS


def test_each_variant_has_seven_articles_and_a_tariff_block(variants):
    for variant in variants.values():
        assert [a.title.split()[1].rstrip(".") for a in variant.articles] == list("1234567")
        assert sum(b.kind == "tariff" for a in variant.articles for b in a.blocks) == 1


def test_only_2021_047_001_allows_a_groupement(variants):
    assert [v.id for v in variants.values() if "groupement" in v.modes] == ["2021-047-001"]


def test_supplementary_contribution_of_150_where_the_seed_has_one(variants):
    extra = {v.id: v.supplementary_contribution for v in variants.values()}
    assert {k: (str(v) if v else None) for k, v in extra.items()} == {
        "2021-045-lot2": "150.00",
        "2021-045-lot4": "150.00",
        "2021-047-001": None,
        "2021-063-002": "150.00",
    }


def _broken_copy(tmp_path, resources, edit):
    root = tmp_path / "repo"
    shutil.copytree(resources.root / "templates", root / "templates")
    shutil.copytree(resources.root / "schemas", root / "schemas")
    path = root / "templates/csac/variants/2021-063-002.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Resources(root), path


def test_a_broken_variant_is_refused_naming_file_and_field(tmp_path, resources):
    def edit(data):
        data["tariff"]["rows"][0]["amount"] = "mille"

    broken, path = _broken_copy(tmp_path, resources, edit)
    with pytest.raises(ConfigError) as exc:
        load_variants(broken)
    assert str(path) in str(exc.value)
    assert "tariff.rows[1].amount" in str(exc.value)


def test_a_variant_missing_its_signature_block_is_refused(tmp_path, resources):
    broken, path = _broken_copy(tmp_path, resources, lambda d: d.pop("signature"))
    with pytest.raises(ConfigError, match="signature"):
        load_variants(broken)


def test_unknown_variant_ids_are_refused_listing_the_known_ones(variants):
    with pytest.raises(UnknownVariantError) as exc:
        select(variants, ["2021-045-lot3"])
    assert "2021-045-lot3" in str(exc.value) and "2021-063-002" in str(exc.value)
