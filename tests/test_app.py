"""The classroom page's logic without a browser: presets, levers, the model, the stories engine and its cache,
playback, the views' data and exports, serving."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mesa
import numpy as np
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
from sim.app.stories import SERIES, Story, StoryCache, StoryError, compute_story, get_ensemble, get_story
from sim.app.views import (
    Curves,
    Playback,
    adoption_options,
    china_options,
    countries_csv,
    country_option,
    date_label,
    influence_options,
    levers_for_new_preset,
    series_csv,
    world_option,
)
from sim.blocs import BLOC_COLOURS
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
    assert model.country_agents  # agents are made on first look; Mesa then keeps the model in a class dict
    assert model in mesa.Agent._ids
    model.retire()
    assert model not in mesa.Agent._ids
    model.step()
    assert model.quarter == model.start and not model.running


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


# -- the stories engine (sim/app/stories.py) -------------------------------------------------------


@pytest.fixture(scope="module")
def cache() -> StoryCache:
    return StoryCache()


@pytest.fixture(scope="module")
def story(cache: StoryCache) -> Story:
    return get_story("baseline", BASELINE, LeverSettings(), 0, cache)


def test_a_story_is_computed_whole_and_is_sim_runs_replicate(story: Story) -> None:
    prepared = prepare(BASELINE)
    seed = replicate_seeds(prepared.scenario.seed, 2)[1]
    other = get_story("baseline", BASELINE, LeverSettings(), 1, StoryCache())
    expected = run_replicate(prepared.scenario, prepared.world, 1, seed).timeseries
    for name, (metric, group) in SERIES.items():
        rows = expected[(expected["metric"] == metric) & (expected["group"] == group)]
        assert other.series[name].tolist() == pytest.approx(rows["value"].tolist(), rel=1e-5, abs=1e-6), name
    assert story.total == 32 and story.quarter(10) == "2025Q3"
    assert len(story.countries) == len(prepared.world.countries)
    assert story.command == "sim run baseline --uncertainty seeds"
    assert other.command.endswith("--replicates 2  # story 1 = replicate 1")


def test_a_story_tells_events_in_plain_words_with_their_claims_and_the_real_world(story: Story) -> None:
    italy = next(e for e in story.events if e.text.startswith("Italy bans DeepSeek"))
    assert (italy.date, italy.step, italy.claims) == ("2025Q1", 8, ("D4.8", "D0.5"))
    assert italy.note.startswith("Italian data-protection authority blocks the DeepSeek app")
    push = next(e for e in story.events if "open release" in e.text)
    assert push.text.startswith("The Chinese state backs open release (its labs are pushed to release openly)")
    texts = " ".join(e.text for e in story.events)
    assert "log-odds" not in texts and "utility" not in texts and "[2 countries]" not in texts
    assert [e.step for e in story.events_until(9)] == [e.step for e in story.events if e.step <= 8]


def test_every_presets_events_are_free_of_model_jargon() -> None:
    presets, _ = list_presets()
    for preset in presets:
        story = get_story(preset.name, preset.path, LeverSettings(open_source_push=2.0,
                          eu_privacy="audits of all non-EU models"), 0, StoryCache())  # fmt: skip
        for event in story.events:
            assert not re.search(r"log-odds|utility|\bCN\b state", event.text), (preset.name, event.text)


def test_the_map_colours_each_country_by_the_bloc_it_mostly_uses(story: Story) -> None:
    dominant = story.dominant(0)
    assert dominant["CHN"][0] == "CN" and dominant["USA"][0] == "US"
    assert all(0 < share <= 1 for _, share in dominant.values())
    option = world_option(story, 1, selected="DEU")
    data = {item["name"]: item for item in option["series"][0]["data"]}
    assert data["CHN"]["itemStyle"]["areaColor"] == BLOC_COLOURS["CN"]
    assert data["DEU"]["itemStyle"]["borderWidth"] == 3  # the selected country is outlined
    assert "Germany: mostly US models" in data["DEU"]["tooltip"]["formatter"]


def test_the_cache_computes_a_key_once_for_thirty_sessions_at_once() -> None:
    cache: StoryCache[object] = StoryCache()
    calls = []
    gate = threading.Event()

    def slow() -> object:
        calls.append(1)
        gate.wait(5)
        return object()

    with ThreadPoolExecutor(30) as pool:
        futures = [pool.submit(cache.get, "key", slow, lambda _: 10) for _ in range(30)]
        time.sleep(0.3)
        gate.set()
        results = [f.result() for f in futures]
    assert len(calls) == 1 and cache.computed == 1
    assert all(r is results[0] for r in results)


def test_the_cache_is_bounded_by_count_and_by_bytes_and_keeps_the_recently_used() -> None:
    cache: StoryCache[int] = StoryCache(max_items=3, max_bytes=1000)
    for key in "abc":
        cache.get(key, lambda: 1, lambda _: 100)
    cache.get("a", lambda: 2, lambda _: 100)  # a hit: "a" is now the most recently used
    cache.get("d", lambda: 1, lambda _: 100)
    assert "b" not in cache and {"a", "c", "d"} <= {k for k in "abcd" if k in cache}
    cache.get("big", lambda: 1, lambda _: 900)
    assert len(cache) <= 2 and cache.bytes <= 1000 and "big" in cache


def test_a_failed_computation_is_not_kept_and_every_waiter_hears_of_it() -> None:
    cache: StoryCache[int] = StoryCache()
    gate = threading.Event()

    def broken() -> int:
        gate.wait(5)
        raise StoryError("The simulation stopped at 2024Q1: ZeroDivisionError: division by zero")

    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(cache.get, "k", broken, lambda _: 1) for _ in range(5)]
        time.sleep(0.2)
        gate.set()
        errors = [f.exception() for f in futures]
    assert all(isinstance(e, StoryError) for e in errors)
    assert "k" not in cache and cache.get("k", lambda: 7, lambda _: 1) == 7  # retried, not remembered


def test_a_failing_run_is_a_plain_message_not_a_traceback(monkeypatch) -> None:
    from sim.model import schedule

    def broken(model):
        if model.quarter - model.start == 3:
            raise ZeroDivisionError("division by zero")

    phases = tuple(dataclasses.replace(p, function=broken) if p.name == "firms" else p for p in schedule.PHASES)
    monkeypatch.setattr(schedule, "PHASES", phases)
    with pytest.raises(StoryError, match=r"^The simulation stopped at 2023Q4: ZeroDivisionError: division by zero$"):
        compute_story("baseline", BASELINE, LeverSettings(), 0)
    assert not [m for m in mesa.Agent._ids if getattr(m, "scenario", None) is not None and m.quarter == m.start + 3]


def test_stories_are_shared_and_a_computed_story_keeps_no_model_alive(cache: StoryCache, story: Story) -> None:
    models_before = len(mesa.Agent._ids)
    again = get_story("baseline", BASELINE, LeverSettings(), 0, cache)
    assert again is story
    get_story("baseline", BASELINE, LeverSettings(tension=0.2), 0, cache)
    assert len(mesa.Agent._ids) == models_before  # released after the run


def test_many_stories_band_the_levels_and_the_paired_difference(cache: StoryCache) -> None:
    neutral = get_ensemble("baseline", BASELINE, LeverSettings(), 4, cache)
    for name, values in neutral.difference.median.items():
        finite = values[np.isfinite(values)]
        assert not finite.any(), name  # neutral levers against themselves: exactly zero
    open_share = neutral.levels
    assert (open_share.low["adoption.open"] <= open_share.median["adoption.open"]).all()
    assert (open_share.median["adoption.open"] <= open_share.high["adoption.open"]).all()
    lifted = get_ensemble("baseline", BASELINE, LeverSettings(export_strength=0.0), 4, cache)
    assert lifted.count == 4
    assert lifted.difference.median["compute.CN"][-1] > 0.01  # lifting chip controls raises China's compute
    tighter = ROOT / "scenarios" / "export-controls-tighten.yaml"
    preset_effect = get_ensemble("export-controls-tighten", tighter, LeverSettings(), 4, cache, ("baseline", BASELINE))
    assert preset_effect.reference == "baseline"
    assert preset_effect.difference.median["compute.CN"][-1] < -0.005  # tighter controls: less compute for China
    assert (
        get_ensemble("export-controls-tighten", tighter, LeverSettings(), 4, cache).difference.median["compute.CN"][-1]
        == 0
    )  # against itself with neutral levers
    stories = [get_story("baseline", BASELINE, LeverSettings(export_strength=0.0), k, cache) for k in range(4)]
    bases = [get_story("baseline", BASELINE, LeverSettings(), k, cache) for k in range(4)]
    paired = [s.series["compute.CN"][-1] - b.series["compute.CN"][-1] for s, b in zip(stories, bases, strict=True)]
    assert lifted.difference.median["compute.CN"][-1] == pytest.approx(np.median(paired), rel=1e-5)


# -- playback and the page's data (sim/app/views.py) -------------------------------------------------


def test_playback_is_one_state_so_a_fast_play_pause_play_keeps_playing() -> None:
    state = Playback(32)
    state = state.play().pause().play()  # within one tick
    assert state.playing and state.shown == 0
    for _ in range(5):
        state = state.tick()
    assert state.shown == 5 and state.playing
    paused = state.pause()
    assert paused.tick() == paused  # a ticker left over from before the pause moves nothing
    assert paused.step() == Playback(32, 6, False)
    assert paused.reset() == Playback(32)


def test_playback_stops_at_the_end_and_play_then_starts_again() -> None:
    state = Playback(3).play()
    for _ in range(10):
        state = state.tick()
    assert state == Playback(3, 3, False)
    assert state.play() == Playback(3, 0, True)
    assert Playback(3, 3).step() == Playback(3, 3, False)


def test_a_new_preset_sets_the_levers_back_to_neutral_and_says_so() -> None:
    moved = LeverSettings(export_strength=1.5, partners=4)
    levers, message = levers_for_new_preset(moved)
    assert levers == LeverSettings()
    assert message.startswith("New preset: the levers are back to neutral") and "strength × = 1.5" in message
    assert levers_for_new_preset(LeverSettings()) == (LeverSettings(), "")


def test_date_label_names_the_last_revealed_quarter(story: Story) -> None:
    assert date_label(story, 0) == "2023Q1 · not started (0 of 32 quarters)"
    assert date_label(story, 11) == "2025Q3 · quarter 11 of 32"


def test_charts_reveal_only_the_shown_quarters_and_stay_small(story: Story) -> None:
    curves = Curves.of(story, None, "one")
    options = adoption_options(curves, story, 11) + influence_options(curves, story, 11)
    options += [*china_options(curves, story, 11), world_option(story, 11), country_option(curves, story, 11, "IND")]
    for option in options:
        assert len(json.dumps(option)) < 40_000  # a quarter's update: a chart a few kB, the map ~32 kB; no images
    values = options[0]["series"][0]["data"]
    assert all(v != "-" for v in values[:11]) and all(v == "-" for v in values[11:])
    assert values[10] == pytest.approx(100 * float(story.series["adoption.open"][10]), abs=0.06)


def test_csv_exports_hold_the_revealed_quarters(story: Story, cache: StoryCache) -> None:
    curves = Curves.of(story, None, "one")
    rows = list(csv.reader(io.StringIO(series_csv(curves, story, 5))))
    assert rows[0][0] == "quarter" and [r[0] for r in rows[1:]] == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    assert float(rows[3][rows[0].index("open models (share of AI-using firms)")]) == pytest.approx(
        float(story.series["adoption.open"][2]), rel=1e-5
    )
    countries = list(csv.reader(io.StringIO(countries_csv(story, 2))))
    assert len(countries) == 1 + 2 * len(story.countries)
    china = next(r for r in countries if r[1] == "CHN")
    assert china[3] == "Chinese models"
    bands = Curves.of(story, get_ensemble("baseline", BASELINE, LeverSettings(), 4, cache), "many")
    header = next(csv.reader(io.StringIO(series_csv(bands, story, 1))))
    assert "open models (share of AI-using firms) (10th percentile)" in header
