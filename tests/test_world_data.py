"""The shipped world data (scenarios/data/*.yaml) validate and match their sources; bad rows are rejected."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from conftest import ROOT, SCENARIOS
from sim.world import World, parse_world, world_columns_markdown

DATA = SCENARIOS / "data"
WORLD_GDP_2023_BN = 105_000  # World Bank WDI ~105,400; IMF WEO April 2024 ~104,800 (billion current US$)
WORLD_POPULATION_2023_M = 8_060  # World Bank WDI

# The 40 largest economies by 2023 GDP (World Bank WDI; Taiwan from IMF WEO), with their names in the file.
LARGEST_40 = {
    "USA": "United States", "CHN": "China", "DEU": "Germany", "JPN": "Japan", "IND": "India",
    "GBR": "United Kingdom", "FRA": "France", "ITA": "Italy", "BRA": "Brazil", "CAN": "Canada",
    "RUS": "Russia", "MEX": "Mexico", "AUS": "Australia", "KOR": "South Korea", "ESP": "Spain",
    "IDN": "Indonesia", "NLD": "Netherlands", "TUR": "Türkiye", "SAU": "Saudi Arabia", "CHE": "Switzerland",
    "POL": "Poland", "TWN": "Taiwan", "ARG": "Argentina", "BEL": "Belgium", "SWE": "Sweden",
    "IRL": "Ireland", "AUT": "Austria", "THA": "Thailand", "ISR": "Israel", "ARE": "United Arab Emirates",
    "SGP": "Singapore", "NOR": "Norway", "PHL": "Philippines", "BGD": "Bangladesh", "VNM": "Viet Nam",
    "IRN": "Iran", "DNK": "Denmark", "MYS": "Malaysia", "EGY": "Egypt", "HKG": "Hong Kong",
}
# Next in line; listed too, so the top 40 holds whichever source ranks the 35th-45th places.
NEXT_IN_LINE = {"ZAF", "COL", "NGA", "ROU", "PAK", "CHL", "CZE"}
REQUIRED_SMALLER = {"CZE", "EST", "NZL", "FIN", "IRL", "DNK", "PRT", "GRC", "HUN", "ROU", "CHL", "PAK", "KAZ",
                    "QAT", "KEN"}
# AI Diffusion rule (90 FR 4544, 2025-01-13): Tier 1 = the US and 18 partners.
TIER_1 = {"USA", "AUS", "BEL", "CAN", "DNK", "FIN", "FRA", "DEU", "IRL", "ITA", "JPN", "NLD", "NZL", "NOR",
          "KOR", "ESP", "SWE", "TWN", "GBR"}
EU_27 = {"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
         "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"}


@pytest.fixture(scope="module")
def raw() -> tuple[dict[str, Any], dict[str, Any]]:
    return tuple(yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
                 for name in ("countries", "families"))  # type: ignore[return-value]


@pytest.fixture()
def docs(raw: tuple[dict[str, Any], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fresh, mutable copies of the two documents for a test to break."""
    return copy.deepcopy(raw)


def _errors(countries: dict[str, Any], families: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        parse_world(countries, families)
    return info.value.errors()


def test_shipped_world_data_validates(world: World) -> None:
    assert len(world.countries) >= 55 and len(world.families) >= 10
    assert world.country("USA").bloc == "US" and world.country_index["USA"] == 0


def test_gdp_sums_to_world_gdp_within_5_percent(world: World) -> None:
    total = sum(c.gdp_usd_bn for c in world.countries)
    assert abs(total / WORLD_GDP_2023_BN - 1) < 0.05, total


def test_population_sums_to_world_population_within_3_percent(world: World) -> None:
    total = sum(c.population_m for c in world.countries)
    assert abs(total / WORLD_POPULATION_2023_M - 1) < 0.03, total


def test_rows_sorted_by_gdp_with_aggregates_last(world: World) -> None:
    flags = [c.is_aggregate for c in world.countries]
    assert flags == sorted(flags)
    economies = [c.gdp_usd_bn for c in world.countries if not c.is_aggregate]
    assert economies == sorted(economies, reverse=True)


def test_forty_largest_economies_are_listed_by_name(world: World) -> None:
    for iso3, name in LARGEST_40.items():
        record = world.country(iso3)
        assert record.name == name and not record.is_aggregate
    ranked = [c.iso3 for c in world.countries if not c.is_aggregate][:40]
    assert set(ranked) <= set(LARGEST_40) | NEXT_IN_LINE


def test_required_smaller_economies_are_listed(world: World) -> None:
    assert set(world.iso3s) >= REQUIRED_SMALLER


def test_aggregates_use_x_codes_and_cover_the_rest(world: World) -> None:
    aggregates = {c.iso3 for c in world.countries if c.is_aggregate}
    assert {"XEU", "XEE", "XLA", "XAF", "XME", "XAS"} <= aggregates
    assert all(code.startswith("X") for code in aggregates)


def test_compute_shares_sum_to_one(world: World) -> None:
    shares = {c.iso3: c.ai_compute_share for c in world.countries}
    assert abs(sum(shares.values()) - 1) <= 0.01
    assert 0.70 <= shares["USA"] <= 0.80 and 0.10 <= shares["CHN"] <= 0.20  # Epoch AI, May 2025


def test_tier_1_matches_the_diffusion_rule(world: World) -> None:
    assert {c.iso3 for c in world.countries if c.export_tier == 1} == TIER_1
    assert {"CHN", "HKG", "RUS", "IRN"} <= {c.iso3 for c in world.countries if c.export_tier == 3}
    for iso3 in ("POL", "CZE", "AUT", "PRT", "GRC", "HUN", "ROU", "EST", "XEU"):
        assert world.country(iso3).export_tier == 2, iso3


def test_blocs_follow_the_documented_mapping(world: World) -> None:
    by_bloc = {b: {c.iso3 for c in world.countries if c.bloc == b} for b in ("US", "CN", "EU")}
    assert by_bloc["US"] == {"USA"} and by_bloc["CN"] == {"CHN", "HKG"}
    listed_eu = by_bloc["EU"] - {"XEU"}
    xeu_members = {code for code in EU_27 if code in world.country("XEU").name}
    assert listed_eu | xeu_members == EU_27 and not listed_eu & xeu_members
    assert all(c.eu_member == (c.bloc == "EU") for c in world.countries)


def test_china_and_india_are_south_and_the_us_north(world: World) -> None:
    assert world.country("CHN").region == "south" and world.country("IND").region == "south"
    assert world.country("USA").region == "north" and world.country("DEU").region == "north"


def test_alignment_is_anchored_on_the_us_and_china(world: World) -> None:
    assert world.country("USA").us_alignment == 1.0 and world.country("CHN").us_alignment == -1.0


def test_each_family_has_a_known_lab_of_matching_origin(world: World) -> None:
    for family in world.families:
        lab = world.lab(family.lab)
        assert family.origin == world.country(lab.country).bloc, family.id


def test_the_families_named_in_the_sources_are_present(world: World) -> None:
    expected = {"gpt": ("US", "closed"), "claude": ("US", "closed"), "gemini": ("US", "closed"),
                "llama": ("US", "open"), "qwen": ("CN", "open"), "deepseek": ("CN", "open"),
                "ernie": ("CN", "closed"), "hunyuan": ("CN", "closed"), "spark": ("CN", "closed"),
                "mistral": ("EU", "open")}
    for family_id, (origin, openness) in expected.items():
        family = world.families[world.family_index[family_id]]
        assert (family.origin, family.openness) == (origin, openness), family_id
    assert "ERNIE 4.5" in (world.families[world.family_index["ernie"]].note or "")
    gpt = world.families[world.family_index["gpt"]]
    assert gpt.release_lag_months == 0 and gpt.released == "2023Q1"


def test_unknown_bloc_is_rejected_naming_the_field(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    countries["countries"][2]["bloc"] = "NATO"
    errors = _errors(countries, families)
    assert [e["loc"] for e in errors] == [("countries", "countries", 2, "bloc")]
    assert "'US', 'CN', 'EU' or 'other'" in errors[0]["msg"]


def test_duplicate_iso3_is_rejected(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    mexico = next(row for row in countries["countries"] if row["iso3"] == "MEX")  # no compute share to double
    countries["countries"].append(copy.deepcopy(mexico))
    errors = _errors(countries, families)
    last = len(countries["countries"]) - 1
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("countries", "countries", last, "iso3"), "duplicate_id")]
    assert "duplicate iso3" in errors[0]["msg"]


def test_family_with_unknown_lab_is_rejected(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    families["families"][0]["lab"] = "opnai"
    errors = _errors(countries, families)
    assert [e["loc"] for e in errors] == [("families", "families", 0, "lab")]
    assert "did you mean 'openai'" in errors[0]["msg"]


def test_origin_mismatching_the_labs_country_is_rejected(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    qwen = next(i for i, f in enumerate(families["families"]) if f["id"] == "qwen")
    families["families"][qwen]["origin"] = "US"
    errors = _errors(countries, families)
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("families", "families", qwen, "origin"), "origin_mismatch")]
    assert "bloc 'CN'" in errors[0]["msg"]


def test_lab_in_unknown_country_is_rejected(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    families["labs"][0]["country"] = "ZZZ"
    errors = _errors(countries, families)
    assert [e["loc"] for e in errors] == [("families", "labs", 0, "country")]


@pytest.mark.parametrize(("field", "value", "error_type"), [
    ("digital_readiness", 1.5, "less_than_equal"),
    ("export_tier", 4, "literal_error"),
    ("gdp_usd_bn", "27361", "float_type"),  # a quoted number is a mistake, not coerced
    ("eu_member", "yes", "bool_type"),
    ("region", "Global South", "literal_error"),
    ("populaton_m", 3.0, "extra_forbidden"),
])
def test_bad_country_values_are_rejected(docs: tuple[dict[str, Any], dict[str, Any]], field: str, value: Any,
                                         error_type: str) -> None:
    countries, families = docs
    countries["countries"][0][field] = value
    errors = _errors(countries, families)
    assert [(e["loc"], e["type"]) for e in errors] == [(("countries", "countries", 0, field), error_type)]


def test_release_quarter_must_look_like_2023q1(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    families["families"][1]["released"] = "2023-Q2"
    errors = _errors(countries, families)
    assert [(e["loc"], e["type"]) for e in errors] == [(("families", "families", 1, "released"),
                                                        "string_pattern_mismatch")]


def test_column_metadata_must_match_the_columns(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    del countries["columns"]["ai_talent"]
    families["columns"]["licence"] = dict(families["columns"]["note"])
    locs = {e["loc"]: e["msg"] for e in _errors(countries, families)}
    assert set(locs) == {("countries", "columns"), ("families", "columns", "licence")}
    assert "'ai_talent'" in locs[("countries", "columns")]


def test_compute_shares_not_summing_to_one_are_rejected(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    countries["countries"][0]["ai_compute_share"] = 0.5
    errors = _errors(countries, families)
    assert [(e["loc"], e["type"]) for e in errors] == [(("countries", "countries"), "compute_share_sum")]


def test_docs_data_page_is_generated_from_the_data(world: World) -> None:
    page = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    assert page == world_columns_markdown(world), (
        "docs/data.md is stale; regenerate it: python -c "
        "\"from sim.world import world_columns_markdown as m; open('docs/data.md', 'w').write(m())\"")


def test_gpt_list_prices_follow_openais_announcements(world: World) -> None:
    # GPT-4 (2023-03), GPT-4 Turbo (2023-11), GPT-4o (2024-05, cut 2024-08), GPT-4.1 (2025-04), GPT-5 (2025-08)
    assert world.price_schedule("gpt") == [("2023Q1", 37.5), ("2023Q4", 15.0), ("2024Q2", 7.5),
                                           ("2024Q3", 4.375), ("2025Q2", 3.5), ("2025Q3", 3.4375)]
    assert world.price_trend_from("gpt") == world.prices_through == "2025Q4"
    # a family without dated prices keeps its first price, with its trend from its release
    assert world.price_schedule("hunyuan") == [("2023Q3", 1.4)] and world.price_trend_from("hunyuan") == "2023Q3"


def _price_row(families: dict[str, Any], family: str, quarter: str) -> int:
    return next(i for i, p in enumerate(families["prices"]) if p["family"] == family and p["quarter"] == quarter)


@pytest.mark.parametrize(("field", "value", "error_type"), [
    ("family", "gtp", "unknown_family"),
    ("quarter", "2023Q2", "quarter_order"),  # before GPT-4 Turbo's 2023Q4 row that precedes it (announced too)
    ("input_usd_per_mtok", -2.5, "greater_than"),
    ("output_usd_per_mtok", 0, "greater_than"),
    ("input_usd_per_mtok", "2.5", "float_type"),  # a quoted number is a mistake, not coerced
    ("announced", date(2024, 11, 20), "quarter_mismatch"),
])
def test_bad_list_prices_are_rejected_naming_the_row_and_field(
        docs: tuple[dict[str, Any], dict[str, Any]], field: str, value: Any, error_type: str) -> None:
    countries, families = docs
    row = _price_row(families, "gpt", "2024Q2")
    families["prices"][row][field] = value
    if field == "quarter":
        families["prices"][row]["announced"] = date(2023, 5, 13)
    errors = _errors(countries, families)
    loc_field = "quarter" if error_type == "quarter_mismatch" else field
    assert [(e["loc"], e["type"]) for e in errors] == [(("families", "prices", row, loc_field), error_type)]


def test_list_price_messages_say_what_is_wrong(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    first, turbo = _price_row(families, "gpt", "2023Q1"), _price_row(families, "gpt", "2023Q4")
    families["prices"][first]["input_usd_per_mtok"] = 3  # contradicts price_usd_per_mtok 37.5 at release
    families["prices"][turbo].update(quarter="2022Q4", announced=date(2022, 11, 6))  # before GPT's release
    families["prices"][_price_row(families, "claude", "2024Q1")]["family"] = "cluade"
    messages: dict[tuple[Any, ...], str] = {}
    for error in _errors(countries, families):
        messages[error["loc"]] = messages.get(error["loc"], "") + error["msg"] + "; "
    assert "contradicts the family's price_usd_per_mtok 37.5" in messages[("families", "prices", first,
                                                                            "input_usd_per_mtok")]
    assert "before family 'gpt' was released (2023Q1)" in messages[("families", "prices", turbo, "quarter")]
    assert "is not after 2023Q1 (prices[0])" in messages[("families", "prices", turbo, "quarter")]
    assert "did you mean 'claude'" in messages[("families", "prices", _price_row(families, "cluade", "2024Q1"),
                                                "family")]


def test_list_prices_need_the_quarter_they_were_checked_for(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    countries, families = docs
    del families["prices_through"]
    errors = _errors(countries, families)
    assert [(e["loc"], e["type"]) for e in errors] == [(("families", "prices_through"), "missing")]
    families["prices_through"] = "2025Q2"  # GPT-5's 2025Q3 price lies beyond it
    errors = _errors(countries, families)
    assert (("families", "prices", _price_row(families, "gpt", "2025Q3"), "quarter"), "after_prices_through") in [
        (e["loc"], e["type"]) for e in errors]


def test_every_observation_a_target_cites_is_in_the_full_record_set():
    """targets.yaml cites records of docs/sources/observations.yaml by id in brackets ("[menlo-open-usa-2024]");
    the file must parse and hold each of them, or a reader following a citation finds nothing."""
    import re

    records = yaml.safe_load((ROOT / "docs/sources/observations.yaml").read_text(encoding="utf-8"))
    ids = {record["id"] for record in records}
    assert len(ids) == len(records), "observation ids repeat"
    targets = yaml.safe_load((DATA / "targets.yaml").read_text(encoding="utf-8"))["targets"]
    cited = {
        (target["id"], ref)
        for target in targets
        for group in re.findall(r"\[([a-z0-9][a-z0-9-]*(?:, [a-z0-9-]+)*)\]", target.get("measures", ""))
        for ref in group.split(", ")
    }
    assert len(cited) >= 10
    missing = sorted((target, ref) for target, ref in cited if ref not in ids)
    assert not missing, f"cited but not recorded: {missing}"
