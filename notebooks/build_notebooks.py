"""Write the lesson notebooks and run them: `python notebooks/build_notebooks.py` (add `--no-execute`
to write them without outputs while editing).

The notebooks are generated so they stay small and reviewable; edit the cells here and rerun this
script: it runs each notebook top to bottom (nbclient) and commits nothing but the cells and their
outputs, so a teacher can read what they print before class. tests/test_lessons.py fails when a
notebook differs from this script's cells or lacks its outputs; `make test` runs them again (pytest
--nbmake). They use the public API (`sim.run`, `sim.compare` and their result frames) and run the
presets as the classroom page's "many stories" view does (12 stories, the scenarios as written), so
what they print matches the numbers of the lessons (docs/teaching.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import matplotlib.pyplot as plt
import pandas as pd

import sim

# The presets as the classroom page's "many stories" view runs them: 12 stories (same rules, another
# roll of chance each), the scenarios as written. The numbers match the lessons in docs/teaching.md.
STORIES = 12


def band(ax, summary, metric, group, label, colour):
    \"\"\"Median over stories with the 10-90% band.\"\"\"
    rows = summary[(summary["metric"] == metric) & (summary["group"] == group)]
    ax.plot(rows["step"], rows["median"], color=colour, label=label)
    ax.fill_between(rows["step"], rows["q10"], rows["q90"], color=colour, alpha=0.2)


def date_axis(ax, summary):
    steps = sorted(summary["step"].unique())
    dates = summary.drop_duplicates("step").set_index("step")["date"]
    ticks = [s for s in steps if dates[s].endswith("Q1")]
    ax.set_xticks(ticks, [dates[s][:4] for s in ticks])
    ax.grid(alpha=0.3)


def by_country(run, origin):
    \"\"\"Per country (aggregates left out): the middle story's share of its firms' AI use on `origin`'s
    models at the last quarter, with the country's name and GDP.\"\"\"
    summary = run.summary
    last = summary[(summary["step"] == summary["step"].max()) & (summary["metric"] == "adoption_share")]
    rows = last[last["group"].str.fullmatch(rf"country=[A-Z]{{3}},origin={origin}")]
    share = pd.Series(rows["median"].to_numpy(), index=rows["group"].str[8:11].to_numpy())
    world = pd.DataFrame([(c.iso3, c.name, c.gdp_usd_bn) for c in run.prepared.world.countries
                          if not c.is_aggregate], columns=["iso3", "name", "gdp"]).set_index("iso3")
    return world.assign(share=share).dropna()
"""
# Lesson 1 draws blocs and openness in the colours of every figure and of the classroom page.
QUICKSTART_SETUP = SETUP.replace(
    "import sim\n",
    "import sim\nfrom sim.blocs import BLOC_COLOURS, OPENNESS_COLOURS  # the colours of every figure and page\n",
)


def quickstart() -> list:
    return [
        new_markdown_cell(
            "# Lesson 1: quick start — run the baseline and read the curves\n\n"
            "The model simulates 2023-2030, one quarter per step: **countries**, **AI labs** and **firms** "
            "choose between *open-weights* models (anyone can download and run them: Llama, Qwen, DeepSeek) "
            "and *closed* models (used through a company's service: GPT, Claude, Gemini), under the rules "
            "of the scenario: US chip export controls, bans of Chinese models over privacy, OpenAI for "
            "Countries, China's open-source strategy.\n\n"
            "In this lesson you run the **baseline** (the world as it went until late 2025, then held steady) "
            "as 12 stories and read four kinds of chart."
        ),
        new_code_cell(QUICKSTART_SETUP),
        new_markdown_cell(
            "## 1. Run it\n\n`sim.run` runs a scenario: a built-in preset by its name, or a YAML file. Each "
            "story (the API calls it a *replicate*) has the same rules and another roll of chance: which "
            "firms adopt AI when, which model they try first, which lab changes its mind."
        ),
        new_code_cell(
            'result = sim.run("baseline", replicates=STORIES)\n'
            'print(result.name, "-", len(result.seeds), "stories;", result.bands)\n'
            'result.summary.query("group == \'openness=open\'").tail()'
        ),
        new_markdown_cell(
            "`result.summary` has one row per quarter, metric and group (here the last quarters of the "
            "open-weights share): the **median** over the stories "
            "(the middle story) and the **10% and 90% quantiles** (`q10`, `q90`), the band where most "
            "stories fall.\n\n## 2. Open or closed?"
        ),
        new_code_cell(
            "summary = result.summary\n"
            "fig, ax = plt.subplots(figsize=(7, 3.5))\n"
            'band(ax, summary, "adoption_share", "openness=open", "open-weights models", OPENNESS_COLOURS["open"])\n'
            'band(ax, summary, "adoption_share", "openness=closed", "closed models", OPENNESS_COLOURS["closed"])\n'
            "date_axis(ax, summary)\n"
            'ax.set_ylabel("share of AI use (firms by size)")\n'
            "ax.legend()\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "The band is wide. Which lab decides it? Meta's releases, story by story, beside the open share "
            "at the end:"
        ),
        new_code_cell(
            "last = result.timeseries[result.timeseries['step'] == result.timeseries['step'].max()]\n"
            "open_end = last.query(\"metric == 'adoption_share' and group == 'openness=open'\")"
            ".set_index('replicate')['value']\n"
            "meta = result.events[result.events['kind'].eq('release') & result.events['event'].str.contains('Meta')]\n"
            "closes = meta.groupby('replicate')['date'].first()\n"
            "table = pd.DataFrame({'open share at the end': open_end.round(2), 'Meta closes Llama in': closes})\n"
            "table.fillna({'Meta closes Llama in': 'never'})"
        ),
        new_markdown_cell("## 3. Whose models? Adoption by the model's origin"),
        new_code_cell(
            "fig, ax = plt.subplots(figsize=(7, 3.5))\n"
            "for bloc, colour in BLOC_COLOURS.items():\n"
            '    band(ax, summary, "adoption_share", f"origin={bloc}", f"{bloc} models", colour)\n'
            "date_axis(ax, summary)\n"
            'ax.set_ylabel("share of AI use (firms by size)")\n'
            "ax.legend()\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "## 4. Influence\n\n"
            "A bloc's **influence** is the share of the world's AI use (firms weighted by their size, and "
            "each government) that runs on its models, counted two ways: weighted by each country's "
            "**GDP** (where the money is) or **one country, one vote** (where the countries are)."
        ),
        new_code_cell(
            "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)\n"
            'titles = {"gdp": "by GDP", "countries": "one country, one vote"}\n'
            "for ax, (weight, title) in zip(axes, titles.items(), strict=True):\n"
            "    for bloc, colour in BLOC_COLOURS.items():\n"
            '        band(ax, summary, "influence", f"bloc={bloc},weight={weight}", bloc, colour)\n'
            "    date_axis(ax, summary)\n"
            "    ax.set_title(title)\n"
            'axes[0].set_ylabel("influence index")\n'
            "axes[0].legend()\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "## 5. Country by country\n\nThe 20 largest economies: the share of their firms' AI use on each "
            "bloc's models in 2030 (middle story), and how many countries' firms mostly use each bloc's "
            "models. The classroom page's map colours each country the same way but counts its government's "
            "use too, so its counts differ a little."
        ),
        new_code_cell(
            "shares = pd.DataFrame({bloc: by_country(result, bloc)['share'] for bloc in BLOC_COLOURS})\n"
            "names = by_country(result, 'US')\n"
            "largest = names.sort_values('gdp', ascending=False).index[:20]\n"
            "table = shares.loc[largest].set_axis(names.loc[largest, 'name'])\n"
            "ax = table.iloc[::-1].plot.barh(stacked=True, color=list(BLOC_COLOURS.values()), figsize=(7, 6))\n"
            "ax.set_xlabel(\"share of the country's firms' AI use, 2030\")\n"
            "ax.set_ylabel('')\n"
            "ax.legend(title='models from', fontsize=8, loc='lower left')\n"
            "plt.show()\n"
            "mostly = shares.idxmax(axis=1).value_counts()\n"
            "print('countries whose firms mostly use each bloc\\'s models:', mostly.to_dict())"
        ),
        new_markdown_cell(
            "## 6. What happened: the events\n\nEvery rule that starts or ends, every ban, every country "
            "joining a programme is narrated, with the claims of the source documents it encodes."
        ),
        new_code_cell(
            'events = result.events[result.events["replicate"] == 0]\n'
            'events[~events["kind"].eq("release")][["date", "event", "sources"]].head(20)'
        ),
        new_code_cell(
            "end = summary[summary['step'] == summary['step'].max()]\n"
            "open_share = end.query(\"metric == 'adoption_share' and group == 'openness=open'\")['median'].item()\n"
            "cn_gdp = end.query(\"metric == 'influence' and group == 'bloc=CN,weight=gdp'\")['median'].item()\n"
            "cn_countries = end.query(\"metric == 'influence' and group == 'bloc=CN,weight=countries'\")"
            "['median'].item()\n"
            'print(f"At {end[\'date\'].iloc[0]}: open-weights share {open_share:.0%}; Chinese influence "\n'
            '      f"{cn_gdp:.0%} by GDP, {cn_countries:.0%} one country one vote")\n'
            "assert 0 <= open_share <= 1 and 0 <= cn_gdp <= 1"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Does open-weights adoption rise or fall over the period? What does Meta's choice do to it? "
            "(`result.events.query(\"kind == 'release'\")` shows every lab switching between open and closed.)\n"
            "2. Why is Chinese influence so much larger when countries are weighted by GDP than when every "
            "country counts the same? Where is most of the AI use on Chinese models (section 5)?\n"
            "3. How wide are the bands? What does it mean for a forecast that twelve stories of the *same* "
            "policies differ this much?\n"
            "4. Pick one event from the table. Which real-world event does it stand for "
            "(`sim explain baseline` shows each rule's note)?"
        ),
    ]


def export_controls() -> list:
    return [
        new_markdown_cell(
            "# Lesson 2: export controls — tighten or lift?\n\n"
            "Two presets change US chip export controls from 2026 and keep everything else of the baseline:\n\n"
            "- `export-controls-tighten`: caps return for Tier 2 countries, near-complete denial for Tier 3;\n"
            "- `export-controls-lifted`: the US sells freely (commercial interest first).\n\n"
            "We compare each with the baseline using **paired runs**: story *k* of both scenarios uses "
            "the same seed and the same random draws for the same purposes (common random numbers), so the "
            "difference between them is the policy's effect, not luck."
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "comparison = sim.compare(\n"
            '    "baseline", "export-controls-tighten", "export-controls-lifted", replicates=STORIES\n'
            ")\n"
            "print(comparison.labels)"
        ),
        new_markdown_cell("## 1. The curves side by side (median and 10-90% band)"),
        new_code_cell(
            "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))\n"
            'colours = {"baseline": "#333333", "export-controls-tighten": "#D55E00", '
            '"export-controls-lifted": "#009E73"}\n'
            "for run in comparison.results:\n"
            '    band(axes[0], run.summary, "compute_share", "bloc=CN", run.name, colours[run.name])\n'
            '    band(axes[1], run.summary, "influence", "bloc=CN,weight=countries", run.name, colours[run.name])\n'
            'axes[0].set_title("China\'s share of world AI compute")\n'
            'axes[1].set_title("Chinese influence, one country one vote")\n'
            "for ax in axes:\n"
            "    date_axis(ax, comparison.base.summary)\n"
            "axes[0].legend(fontsize=8)\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "## 2. The paired difference: scenario minus baseline\n\n"
            "`comparison.difference` has, per quarter, the median and 10-90% band of (scenario - baseline) "
            "computed story by story. A band that stays away from zero is an effect chance cannot explain."
        ),
        new_code_cell(
            "diff = comparison.difference\n"
            "series = [\n"
            '    ("adoption_share", "openness=open", "open-weights share"),\n'
            '    ("adoption_share", "origin=CN", "share on Chinese models"),\n'
            '    ("influence", "bloc=US,weight=gdp", "US influence (GDP)"),\n'
            '    ("capability_gap_months", "pair=CN-US", "months China trails the US"),\n'
            "]\n"
            "fig, axes = plt.subplots(1, len(series), figsize=(15, 3.2))\n"
            "for ax, (metric, group, title) in zip(axes, series, strict=True):\n"
            "    for label in comparison.labels[1:]:\n"
            '        rows = diff[(diff["scenario"] == label) & (diff["metric"] == metric) & (diff["group"] == group)]\n'
            '        ax.plot(rows["step"], rows["median"], color=colours[label], label=label)\n'
            '        ax.fill_between(rows["step"], rows["q10"], rows["q90"], color=colours[label], alpha=0.2)\n'
            '    ax.axhline(0, color="black", linewidth=0.8)\n'
            "    ax.set_title(title, fontsize=10)\n"
            "    date_axis(ax, comparison.base.summary)\n"
            "axes[0].legend(fontsize=7)\n"
            "plt.tight_layout()\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "At the horizon: `share_higher` is the share of the 12 stories in which the scenario ends higher "
            "than the baseline. Near 0 or 1 the stories agree on the direction; near one half the difference "
            "is within chance."
        ),
        new_code_cell(
            "horizon = comparison.difference_summary\n"
            "groups = ['openness=open', 'origin=CN', 'bloc=CN', 'bloc=CN,weight=gdp', 'bloc=CN,weight=countries',\n"
            "          'bloc=US,weight=gdp', 'pair=CN-US']\n"
            "metrics = ['adoption_share', 'compute_share', 'influence', 'capability_gap_months']\n"
            "columns = ['scenario', 'metric', 'group', 'base_median', 'other_median', 'difference_median',\n"
            "           'difference_q10', 'difference_q90', 'share_higher']\n"
            "horizon[horizon['group'].isin(groups) & horizon['metric'].isin(metrics)][columns].round(3)"
        ),
        new_markdown_cell(
            "## 3. Country by country\n\nChinese models' share of firms' AI use in 2030 in the countries the "
            "controls aim at and in large Tier 2 economies, in the three scenarios (middle story)."
        ),
        new_code_cell(
            "countries = ['CHN', 'RUS', 'IRN', 'IND', 'IDN', 'BRA', 'SAU', 'MEX', 'TUR', 'VNM']\n"
            "table = pd.DataFrame({run.name: by_country(run, 'CN')['share'] for run in comparison.results})\n"
            "table = table.loc[countries].set_axis(by_country(comparison.base, 'CN').loc[countries, 'name'])\n"
            "ax = table.plot.bar(color=[colours[c] for c in table.columns], figsize=(10, 3.5))\n"
            "ax.set_ylabel(\"share on Chinese models, 2030\")\n"
            "ax.set_xlabel('')\n"
            "ax.legend(fontsize=8)\n"
            "plt.show()"
        ),
        new_code_cell(
            "# A scenario is compared with the baseline on the same seeds: story by story.\n"
            "assert all(r.seeds == comparison.base.seeds for r in comparison.results)"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Tightening slows China's compute. Does it also slow the spread of Chinese *open* models? "
            "Why might denial of chips push labs towards open release (D4.4, D4.6), and do Chinese labs "
            "release differently in the three scenarios here (`release_open_share`, `bloc=CN`)?\n"
            "2. Which scenario gives the US more influence by GDP? By country count? Are the two answers the same?\n"
            "3. For which numbers is `share_higher` far from 0 and 1 (within chance)? What would you tell a "
            "policy-maker about those effects?\n"
            "4. The controls act from 2026. Why do some differences take several quarters to appear?\n"
            "5. Try it: `sim run export-controls-tighten --uncertainty seeds --set "
            "rules.<rule id>.strength=0.5` (ids from `sim explain export-controls-tighten`). Is the effect "
            "proportional to the strength? On the classroom page, the lever *Chip controls: strength ×* does "
            "the same."
        ),
    ]


def alliances() -> list:
    return [
        new_markdown_cell(
            "# Lesson 3: alliances and influence — programmes vs open source\n\n"
            "Two ways to win countries over:\n\n"
            "- `openai-for-countries-expands`: OpenAI for Countries grows to 30 partners, with co-funded data "
            "centres, localised models and training (D1.x);\n"
            "- `china-open-source-push`: China backs open releases more strongly and promotes its open models "
            "in the Global South (D4.4, D4.11).\n\n"
            "Influence is counted two ways: **by GDP** and **one country, one vote**. The two can tell "
            "different stories."
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "comparison = sim.compare(\n"
            '    "baseline", "openai-for-countries-expands", "china-open-source-push", replicates=STORIES\n'
            ")\n"
            "runs = {run.name: run for run in comparison.results}\n"
            "list(runs)"
        ),
        new_markdown_cell("## 1. Partners: how many countries join the programme?"),
        new_code_cell(
            "fig, ax = plt.subplots(figsize=(7, 3.2))\n"
            'colours = {"baseline": "#333333", "openai-for-countries-expands": "#0072B2", '
            '"china-open-source-push": "#D55E00"}\n'
            "for name, run in runs.items():\n"
            '    partners = run.summary[run.summary["metric"] == "partners"]\n'
            '    for group, rows in partners.groupby("group"):\n'
            '        ax.plot(rows["step"], rows["median"], color=colours[name], label=f"{name}: {group}")\n'
            "date_axis(ax, comparison.base.summary)\n"
            'ax.set_ylabel("partner countries")\n'
            "ax.legend(fontsize=7)\n"
            "plt.show()"
        ),
        new_markdown_cell("## 2. Influence by GDP vs by country count"),
        new_code_cell(
            "fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True, sharey=True)\n"
            'for row, bloc in enumerate(["US", "CN"]):\n'
            '    for col, weight in enumerate(["gdp", "countries"]):\n'
            "        ax = axes[row, col]\n"
            "        for name, run in runs.items():\n"
            '            band(ax, run.summary, "influence", f"bloc={bloc},weight={weight}", name, colours[name])\n'
            '        ax.set_title(f"{bloc} influence, " + ("by GDP" if weight == "gdp" else "one country one vote"))\n'
            "        date_axis(ax, comparison.base.summary)\n"
            "axes[0, 0].legend(fontsize=7)\n"
            "plt.tight_layout()\n"
            "plt.show()"
        ),
        new_markdown_cell(
            "The median difference from the baseline at the horizon, and in what share of the 12 stories the "
            "scenario ends higher (near one half: within chance)."
        ),
        new_code_cell(
            "horizon = comparison.difference_summary\n"
            "influence = horizon[horizon['metric'] == 'influence']\n"
            "table = influence.pivot_table(index='group', columns='scenario', values='difference_median')\n"
            "higher = influence.pivot_table(index='group', columns='scenario', values='share_higher')\n"
            "table.round(3).join(higher.round(2).add_suffix(': share of stories higher'))"
        ),
        new_markdown_cell(
            "## 3. Who joined?\n\nThe events name each country that joins, by an announced "
            "deal or by accepting an offer, and each that declines one (story 0)."
        ),
        new_code_cell(
            'events = runs["openai-for-countries-expands"].events\n'
            'first = events[(events["replicate"] == 0) & events["kind"].eq("program")]\n'
            'first[["date", "event"]].tail(15)'
        ),
        new_markdown_cell(
            "## 4. Country by country: where does each strategy change whose models are used?\n\n"
            "The ten countries where each scenario moves the share of firms' AI use on its side's models "
            "most, against the baseline (middle story in 2030)."
        ),
        new_code_cell(
            "fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))\n"
            "for ax, (name, origin) in zip(axes, [('openai-for-countries-expands', 'US'),\n"
            "                                     ('china-open-source-push', 'CN')], strict=True):\n"
            "    base, other = by_country(comparison.base, origin), by_country(runs[name], origin)\n"
            "    change = (other['share'] - base['share']).sort_values(ascending=False).head(10)\n"
            "    change.set_axis(base.loc[change.index, 'name']).plot.bar(ax=ax, color=colours[name])\n"
            "    ax.set_title(f'{name}: change in use of {origin} models', fontsize=10)\n"
            "    ax.set_xlabel('')\n"
            "plt.tight_layout()\n"
            "plt.show()"
        ),
        new_code_cell(
            "assert set(table.columns) == {'openai-for-countries-expands', 'china-open-source-push'}\n"
            "assert len(table) == 12  # four blocs, three weightings (GDP, population, one country one vote)"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Which strategy moves influence more **by GDP**, and which **by country count**? Why do the "
            "two weightings disagree (which countries does each strategy reach, section 4)?\n"
            "2. The programme offers partnerships to the best-scoring countries (readiness, government "
            "support, potential use: D1.4), and a country accepts when the offer is worth more than its lean "
            "towards another bloc (D1.5, D1.10). Does any country decline here? Which countries are never "
            "asked, and what would an offer to them have to contain?\n"
            "3. Open models can be adapted locally (D4.11). What does a country gain by choosing them, and "
            "what does it risk (D2.5, D4.10)?\n"
            "4. If you advised a mid-sized Global South government, which offer would you take? What would "
            "make you change your mind?\n"
            "5. Try it on the classroom page (`make app`): move *OpenAI partners: extra* and *China open-source "
            "push ×*, press Reset, and open *difference from baseline*. Which lever changes the colours of "
            "more countries on the map?"
        ),
    ]


def _keep_cell_ids(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Reuse the cell ids of the notebook already at `path` (same number of cells), so a regeneration
    changes only the cells whose text changed (nbformat makes new random ids otherwise)."""
    if not path.exists():
        return
    old = nbformat.read(path, as_version=4)
    if len(old.cells) == len(notebook.cells):
        for cell, before in zip(notebook.cells, old.cells, strict=True):
            if "id" in before:
                cell["id"] = before["id"]


LESSONS = {
    "01_quickstart.ipynb": quickstart,
    "02_export_controls.ipynb": export_controls,
    "03_alliances_and_influence.ipynb": alliances,
}


def execute(notebook: nbformat.NotebookNode) -> None:
    """Run the notebook top to bottom in notebooks/, as nbmake does, keeping no timing metadata."""
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}},
                   record_timing=False).execute()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    parser.add_argument("names", nargs="*", help="notebooks to write (default: all)")
    args = parser.parse_args(argv)
    for name, cells in LESSONS.items():
        if args.names and name not in args.names:
            continue
        notebook = new_notebook(cells=cells())
        _keep_cell_ids(notebook, HERE / name)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        if not args.no_execute:
            execute(notebook)
        notebook.metadata["language_info"] = {"name": "python"}  # not the kernel's exact version
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
