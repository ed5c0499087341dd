"""The per-country plausibility report: its observations are sourced data, and its table reads the run."""

from __future__ import annotations

import importlib.util
import re
import sys

import yaml

import sim
from conftest import BASELINE, ROOT
from sim.resources import data_dir

QUANTITIES = {"population_ai_use_share", "deepseek_share_of_ai_use", "us_model_share_of_ai_use",
              "chinese_model_share_of_ai_use"}


def load_report_module():
    spec = importlib.util.spec_from_file_location("country_report", ROOT / "scripts" / "country_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["country_report"] = module
    spec.loader.exec_module(module)
    return module


def test_every_observation_is_a_sourced_share_of_a_known_place(world):
    records = yaml.safe_load((data_dir() / "observations.yaml").read_text(encoding="utf-8"))["observations"]
    # an economy of the world data, one named inside a regional aggregate ("... (VEN, BLR, CUB, ...)"), or a region
    members = {code for c in world.countries if c.is_aggregate for code in re.findall(r"\b[A-Z]{3}\b", c.name)}
    places = {c.iso3 for c in world.countries} | members | {"world", "north", "south"}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    for r in records:
        assert r["quantity"] in QUANTITIES, r["id"]
        assert r["scope"] in places, r["id"]
        assert 0.0 <= r["value"] <= 1.0, r["id"]
        assert r["source"]["publisher"] and r["source"]["date"] and r["measures"], r["id"]


def test_report_table_has_each_checked_country_with_shares_that_add_up(tmp_path):
    report = load_report_module()
    result = sim.run(BASELINE, replicates=2, overrides=["population.firms=3000", "time.end=2026Q1"])
    table = report.per_country(result.timeseries)
    assert list(table["country"]) == report.CHECKED
    china = table.set_index("country").loc["CHN"]
    assert china["CN"][0] > 0.5 and china["government"] == "CN 100%"  # medians, then the 10% and 90% bands
    for row in table.itertuples():
        medians = sum(getattr(row, bloc)[0] for bloc in ("US", "CN", "EU", "other"))
        assert medians <= 1.0 + 1e-9
    page = report.markdown(table, report.observations(), report.unserved(result.prepared.world), 2, 3000)
    assert "| RUS |" in page and "OpenAI" in page.split("| RUS |")[1].split("\n")[0]  # US labs do not serve Russia
