"""The classroom page's logic without a browser: presets, levers, the per-session model, the views, serving."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import mesa
import pytest

from sim.app import presets as presets_mod
from sim.app.classroom import ClassroomModel
from sim.app.levers import (
    EU_PRIVACY_RULE,
    LEVERS,
    OPEN_SOURCE_RULE,
    REACH_OPTIONS,
    LeverSettings,
    lever_overrides,
    lever_summary,
)
from sim.app.presets import header_question, list_presets
from sim.app.serve import BROWSER_PACKAGES, ServeError, check_address, missing_browser_packages
from sim.app.views import date_label, feed_html, narrate, world_html
from sim.cli import main
from sim.model.streams import replicate_seeds
from sim.runner import run_replicate
from sim.scenario import prepare

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
QUARTERS = 16  # enough for every baseline rule to have started (the last starts in 2026Q1)


def run_quarters(model: ClassroomModel, quarters: int = QUARTERS) -> list[tuple]:
    for _ in range(quarters):
        model.step()
    rows = list(model.rows)
    model.retire()
    return rows


@pytest.fixture(scope="module")
def default_rows() -> list[tuple]:
    return run_quarters(ClassroomModel())


def test_header_question_is_the_comment_block_without_hashes_or_modeline(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "# yaml-language-server: $schema=scenario.schema.json\n#\n# Question: what if the US\n"
        "# widens controls?\n#\n# Second paragraph.\nschema_version: 1\n# not header\n"
    )
    assert header_question(path) == "Question: what if the US widens controls?\n\nSecond paragraph."


def test_presets_list_valid_scenarios_baseline_first_and_name_the_invalid(tmp_path: Path) -> None:
    for name in ("baseline.yaml", "zeta.yaml"):
        (tmp_path / name).write_text(BASELINE.read_text())
    (tmp_path / "zeta.yaml").write_text(BASELINE.read_text().replace("name: baseline", "name: zeta"))
    (tmp_path / "alpha.yaml").write_text("schema_version: 1\nname: alpha\npopulation: {firms: -3}\n")
    (tmp_path / "data").symlink_to(ROOT / "scenarios" / "data")
    presets, skipped = list_presets(tmp_path)
    assert [p.name for p in presets] == ["baseline", "zeta"]
    assert presets[0].question.startswith("Question: where does the world's AI use go")
    assert len(skipped) == 1 and skipped[0].startswith("alpha.yaml: ") and "population.firms" in skipped[0]


def test_neutral_levers_change_nothing_and_story_zero_is_sim_runs_replicate_zero() -> None:
    prepared = prepare(BASELINE)
    assert lever_overrides(prepared.scenario, LeverSettings()) == []
    model = ClassroomModel()
    model.run()
    seed = replicate_seeds(prepared.scenario.seed, 1)[0]
    expected = run_replicate(prepared.scenario, prepared.world, 0, seed).timeseries
    assert [(r[0], r[2], r[3]) for r in model.rows] == list(
        zip(expected["step"], expected["metric"], expected["group"], strict=True)
    )
    assert [r[4] for r in model.rows] == expected["value"].tolist()
    model.retire()


def test_reset_with_the_same_choices_replays_the_same_story(default_rows: list[tuple]) -> None:
    assert run_quarters(ClassroomModel()) == default_rows
    assert run_quarters(ClassroomModel(story=1)) != default_rows


LEVER_MOVES = {
    "export_strength": 1.8,
    "export_reach": "tiers 2 and 3 (most of the world)",
    "eu_privacy": "audits of Chinese models",
    "partners": 15,
    "open_source_push": 2.5,
    "tension": 0.4,
}


def test_every_lever_has_a_move_under_test() -> None:
    assert set(LEVER_MOVES) == {lv.name for lv in LEVERS} == set(LeverSettings.names())


@pytest.mark.parametrize("lever", list(LEVER_MOVES))
def test_moving_a_lever_changes_the_run(lever: str, default_rows: list[tuple]) -> None:
    model = ClassroomModel(**{lever: LEVER_MOVES[lever]})
    assert model.overrides and not model.notice
    assert run_quarters(model) != default_rows


def test_export_levers_scale_strength_capped_at_one_and_add_tiers_to_chip_controls_only() -> None:
    scenario = prepare(BASELINE).scenario
    overrides = lever_overrides(scenario, LeverSettings(export_strength=1.5, export_reach="also all tier 3 countries"))
    assert "rules.us-chips-2023-update.strength=1" in overrides  # 0.7 x 1.5, capped
    assert "rules.us-chips-china-2022.strength=0.75" in overrides
    assert "rules.us-chips-china-2022.targets.tiers=[3]" in overrides
    assert not any(o.startswith("rules.openai-blocks-china-api.") for o in overrides)  # restricts API access


def test_eu_privacy_lever_adds_a_regulation_rule_on_the_eu_bloc(default_rows: list[tuple]) -> None:
    model = ClassroomModel(eu_privacy="much looser data protection")
    rule = model.scenario.rules[EU_PRIVACY_RULE]
    assert rule.kind == "regulation" and rule.targets.blocs == ["EU"] and rule.privacy_change == -0.6
    assert run_quarters(model) != default_rows
    audits = ClassroomModel(eu_privacy="audits of all non-EU models").scenario.rules[EU_PRIVACY_RULE]
    assert audits.audit_cost > 0 and audits.applies_to.foreign_only


def test_open_source_lever_scales_the_push_or_adds_one_where_there_is_none(tmp_path: Path) -> None:
    scenario = prepare(BASELINE).scenario
    scaled = lever_overrides(scenario, LeverSettings(open_source_push=2.0))
    support = scenario.rules["china-open-source-strategy"].open_support
    assert f"rules.china-open-source-strategy.open_support={2.0 * support:g}" in scaled
    without = tmp_path / "no-push.yaml"
    without.write_text(
        f"schema_version: 1\nname: no-push\nextends: {BASELINE}\nrules: {{china-open-source-strategy: null}}\n"
    )
    bare = prepare(without).scenario
    assert lever_overrides(bare, LeverSettings(open_source_push=0.5)) == []  # nothing to weaken
    (added,) = lever_overrides(bare, LeverSettings(open_source_push=1.5))
    path, _, value = added.partition("=")
    assert path == f"rules.{OPEN_SOURCE_RULE}" and json.loads(value)["open_support"] == 0.75  # half the standard 1.5
    assert prepare(without, [added]).scenario.rules[OPEN_SOURCE_RULE].bloc == "CN"


def test_tension_lever_shifts_the_path_within_zero_and_one() -> None:
    model = ClassroomModel(tension=0.3)
    path = model.scenario.rules["us-china-tension"].path
    assert path["2025Q2"] == 1.0 and path["2023Q4"] == pytest.approx(0.8)
    assert model.scenario.parameters.collaboration.tension == pytest.approx(0.8)
    model.retire()


def test_partner_lever_raises_the_programme_target_and_never_below_zero() -> None:
    scenario = prepare(BASELINE).scenario
    assert lever_overrides(scenario, LeverSettings(partners=-30)) == ["rules.openai-for-countries.target_partners=0"]
    rows = run_quarters(ClassroomModel(partners=10), 24)
    partners = [r[4] for r in rows if r[2] == "partners"]
    assert partners[-1] > 11  # the baseline's target is 11


def test_lever_summary_and_rerun_command_name_what_moved() -> None:
    assert lever_summary(LeverSettings()) == "all as in the scenario"
    model = ClassroomModel(partners=3, export_reach=list(REACH_OPTIONS)[1])
    assert "OpenAI partners: extra = 3" in lever_summary(model.settings)
    assert "--set 'rules.openai-for-countries.target_partners=14'" in model.command
    assert model.command.startswith("sim run baseline ")  # a built-in preset by name: runs from any folder
    assert "--uncertainty seeds" in model.command  # the page's story, not a draw from the parameter ensemble
    model.retire()


def test_unknown_preset_falls_back_with_a_notice() -> None:
    model = ClassroomModel(preset="no-such-preset")
    assert model.preset.name == "baseline" and "not available" in model.notice
    model.retire()


def test_a_failing_step_stops_the_run_with_a_message_not_a_traceback(monkeypatch) -> None:
    model = ClassroomModel()
    model.step()

    def broken(_model):
        raise ZeroDivisionError("division by zero")

    from sim.model import schedule

    phases = tuple(dataclasses.replace(p, function=broken) if p.name == "firms" else p for p in schedule.PHASES)
    monkeypatch.setattr(schedule, "PHASES", phases)
    model.step()
    assert not model.running and model.error.startswith("The simulation stopped at 2023Q2: ZeroDivisionError")
    model.retire()


def test_retire_releases_the_model_and_stops_it() -> None:
    model = ClassroomModel()
    assert model in mesa.Agent._ids
    model.retire()
    assert model not in mesa.Agent._ids
    model.step()
    assert model.quarter == model.start and not model.running


def test_date_label_names_the_last_simulated_quarter() -> None:
    model = ClassroomModel()
    assert date_label(model) == "2023Q1 · not started (0 of 32 quarters)"
    for _ in range(11):
        model.step()
    assert date_label(model) == "2025Q3 · quarter 11 of 32"
    model.retire()


def test_feed_narrates_events_with_date_sources_and_the_real_world_note() -> None:
    model = ClassroomModel()
    for _ in range(9):
        model.step()
    italy = next(e for e in model.events if e["rule_id"] == "italy-blocks-deepseek")
    line, note = narrate(model, italy)
    assert line == "2025Q1 — Italy bans DeepSeek for all users (D4.8, D0.5)"
    assert note.startswith("Italian data-protection authority blocks the DeepSeek app")
    feed = feed_html(model)
    assert feed.index("2025Q1") < feed.index("2023Q1")  # newest first
    model.retire()


def test_world_view_colours_each_country_by_the_bloc_it_mostly_uses() -> None:
    model = ClassroomModel()
    model.step()
    page = world_html(model)
    assert page.count('class="sim-tile"') == model.n_countries
    assert 'title="China: mostly Chinese models' in page and 'title="United States: mostly US models' in page
    model.retire()


def test_browser_files_check_names_what_is_missing(tmp_path: Path) -> None:
    assert missing_browser_packages(tmp_path) == list(BROWSER_PACKAGES)
    for name in BROWSER_PACKAGES:
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "package.json").write_text("{}")
    assert missing_browser_packages(tmp_path) == []


def test_app_refuses_a_port_in_use_or_out_of_range(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match="already in use"):
            check_address("127.0.0.1", port)
    with pytest.raises(ServeError, match="not a port number"):
        check_address("127.0.0.1", 70000)
    assert main(["app", "--port", "0"]) == 2
    assert "--port 0 is not a port number" in capsys.readouterr().err


def test_scenarios_folder_comes_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(presets_mod.SCENARIOS_ENV, str(tmp_path))
    assert presets_mod.scenarios_dir() == tmp_path
