"""Write the lesson notebooks (outputs cleared): `python notebooks/build_notebooks.py`.

The notebooks are generated so they stay small, reviewable and free of stale outputs; edit the
cells here, rerun this script, and `make test` executes them top to bottom (pytest --nbmake).
They use only the public API: `sim.run`, `sim.compare` and their result frames.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
from pathlib import Path

import matplotlib.pyplot as plt

import sim

# The notebooks live in notebooks/; the scenarios one folder up.
SCENARIOS = Path.cwd().parent / "scenarios" if Path.cwd().name == "notebooks" else Path("scenarios")
# Classroom-sized runs: fewer firms and replicates than a study, so each cell takes seconds.
# For a report, raise both (the curves keep their shape; the bands narrow).
SMALL = ["population.firms=1500"]
REPLICATES = 5


def band(ax, summary, metric, group, label, colour):
    \"\"\"Median over replicates with the 10-90% band.\"\"\"
    rows = summary[(summary["metric"] == metric) & (summary["group"] == group)]
    ax.plot(rows["step"], rows["median"], color=colour, label=label)
    ax.fill_between(rows["step"], rows["q10"], rows["q90"], color=colour, alpha=0.2)


def date_axis(ax, summary):
    steps = sorted(summary["step"].unique())
    dates = summary.drop_duplicates("step").set_index("step")["date"]
    ticks = [s for s in steps if dates[s].endswith("Q1")]
    ax.set_xticks(ticks, [dates[s][:4] for s in ticks])
    ax.grid(alpha=0.3)
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
            "a few times and read three kinds of curve."
        ),
        new_code_cell(QUICKSTART_SETUP),
        new_markdown_cell(
            "## 1. Run it\n\n`sim.run` runs a scenario file. Each *replicate* is the same story with "
            "another roll of chance (which firms adopt AI when, which model they try first)."
        ),
        new_code_cell(
            'result = sim.run(SCENARIOS / "baseline.yaml", replicates=REPLICATES, overrides=SMALL)\n'
            'print(result.name, "-", len(result.seeds), "replicates in", round(result.wall_time_s, 1), "s")\n'
            "result.summary.head()"
        ),
        new_markdown_cell(
            "`result.summary` has one row per quarter, metric and group: the **median** over replicates "
            "and the **10% and 90% quantiles** (`q10`, `q90`), the band where most replicates fall.\n\n"
            "## 2. Open or closed?"
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
            "## 5. What happened: the events\n\nEvery rule that starts or ends, every ban, every country "
            "joining a programme is narrated, with the claims of the source documents it encodes."
        ),
        new_code_cell(
            'events = result.events[result.events["replicate"] == 0]\n'
            'events[~events["kind"].eq("release")][["date", "event", "sources"]].head(20)'
        ),
        new_code_cell(
            "last = summary[summary['step'] == summary['step'].max()]\n"
            "open_share = last.query(\"metric == 'adoption_share' and group == 'openness=open'\")['median'].item()\n"
            "cn_gdp = last.query(\"metric == 'influence' and group == 'bloc=CN,weight=gdp'\")['median'].item()\n"
            "cn_countries = last.query(\"metric == 'influence' and group == 'bloc=CN,weight=countries'\")"
            "['median'].item()\n"
            'print(f"At {last[\'date\'].iloc[0]}: open-weights share {open_share:.0%}; Chinese influence "\n'
            '      f"{cn_gdp:.0%} by GDP, {cn_countries:.0%} by country count")\n'
            "assert 0 <= open_share <= 1 and 0 <= cn_gdp <= 1"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Does open-weights adoption rise or fall over the period? What in the scenario could drive it? "
            "(The table above leaves out the labs' release events: "
            "`result.events.query(\"kind == 'release'\")` shows labs switching between open and closed.)\n"
            "2. Why is Chinese influence so much larger when countries are weighted by GDP than when every "
            "country counts the same? Where is most of the AI use on Chinese models?\n"
            "3. How wide are the bands? What does it mean for a forecast that five runs of the *same* "
            "policies differ this much?\n"
            "4. Pick one event from the table. Which real-world event does it stand for "
            "(`sim explain scenarios/baseline.yaml` shows each rule's note)?"
        ),
    ]


def export_controls() -> list:
    return [
        new_markdown_cell(
            "# Lesson 2: export controls — tighten or lift?\n\n"
            "Two presets change US chip export controls from 2026 and keep everything else of the baseline:\n\n"
            "- `export-controls-tighten`: caps return for Tier 2 countries, near-complete denial for Tier 3;\n"
            "- `export-controls-lifted`: the US sells freely (commercial interest first).\n\n"
            "We compare each with the baseline using **paired runs**: replicate *r* of both scenarios uses "
            "the same seed and the same random draws for the same purposes (common random numbers), so the "
            "difference between them is the policy's effect, not luck."
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "comparison = sim.compare(\n"
            '    SCENARIOS / "baseline.yaml",\n'
            '    SCENARIOS / "export-controls-tighten.yaml",\n'
            '    SCENARIOS / "export-controls-lifted.yaml",\n'
            "    replicates=REPLICATES,\n"
            "    overrides=SMALL,\n"
            ")\n"
            "print(comparison.labels, round(comparison.wall_time_s, 1), 's')"
        ),
        new_markdown_cell("## 1. The curves side by side (median and 10-90% band)"),
        new_code_cell(
            "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))\n"
            'colours = {"baseline": "#333333", "export-controls-tighten": "#d62728", '
            '"export-controls-lifted": "#2ca02c"}\n'
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
            "computed replicate by replicate. A band that stays away from zero is an effect the noise "
            "cannot explain."
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
            '    for label in comparison.labels[1:]:\n'
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
        new_code_cell(
            "horizon = comparison.difference_summary\n"
            "groups = ['openness=open', 'origin=CN', 'bloc=CN,weight=gdp', 'bloc=CN,weight=countries',\n"
            "          'bloc=US,weight=gdp']\n"
            "columns = ['scenario', 'metric', 'group', 'base_median', 'other_median', 'difference_median',\n"
            "           'difference_q10', 'difference_q90', 'share_higher']\n"
            "horizon[horizon['group'].isin(groups)][columns].round(3)"
        ),
        new_code_cell(
            "# A scenario is compared with the baseline on the same seeds: replicate by replicate.\n"
            "assert all(r.seeds == comparison.base.seeds for r in comparison.results)"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Tightening slows China's compute. Does it also slow the spread of Chinese *open* models? "
            "Why might denial of chips push labs towards open release (D4.4, D4.6), and do Chinese labs "
            "release differently in the three scenarios here (`release_open_share`, `bloc=CN`)?\n"
            "2. Which scenario gives the US more influence by GDP? By country count? Are the two answers the same?\n"
            "3. For which curves does the 10-90% band of the difference include zero? What would you tell a "
            "policy-maker about those effects?\n"
            "4. The controls act from 2026. Why do some differences take several quarters to appear?\n"
            "5. Try it: `sim run scenarios/export-controls-tighten.yaml --set "
            "rules.<rule id>.strength=0.5` (ids from `sim explain`). Is the effect proportional to the strength?"
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
            '    SCENARIOS / "baseline.yaml",\n'
            '    SCENARIOS / "openai-for-countries-expands.yaml",\n'
            '    SCENARIOS / "china-open-source-push.yaml",\n'
            "    replicates=REPLICATES,\n"
            "    overrides=SMALL,\n"
            ")\n"
            "runs = {run.name: run for run in comparison.results}\n"
            "list(runs)"
        ),
        new_markdown_cell("## 1. Partners: how many countries join the programme?"),
        new_code_cell(
            "fig, ax = plt.subplots(figsize=(7, 3.2))\n"
            'colours = {"baseline": "#333333", "openai-for-countries-expands": "#1f5fbf", '
            '"china-open-source-push": "#d62728"}\n'
            "for name, run in runs.items():\n"
            '    partners = run.summary[run.summary["metric"] == "partners"]\n'
            '    for group, rows in partners.groupby("group"):\n'
            '        ax.plot(rows["step"], rows["median"], color=colours[name], label=f"{name}: {group}")\n'
            'date_axis(ax, comparison.base.summary)\n'
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
        new_code_cell(
            "horizon = comparison.difference_summary\n"
            "table = horizon[horizon['metric'] == 'influence'].pivot_table(\n"
            "    index='group', columns='scenario', values='difference_median')\n"
            "table.round(3)"
        ),
        new_markdown_cell(
            "## 3. Who joined, who declined?\n\nThe events name each country that joins, by an announced "
            "deal or by accepting an offer, and each that declines one."
        ),
        new_code_cell(
            'events = runs["openai-for-countries-expands"].events\n'
            'first = events[(events["replicate"] == 0) & events["kind"].eq("program")]\n'
            'first[["date", "event"]].tail(15)'
        ),
        new_code_cell(
            "assert set(table.columns) == {'openai-for-countries-expands', 'china-open-source-push'}\n"
            "assert len(table) == 12  # four blocs, three weightings (GDP, population, one country one vote)"
        ),
        new_markdown_cell(
            "## Discussion\n\n"
            "1. Which strategy moves influence more **by GDP**, and which **by country count**? Why do the "
            "two weightings disagree (which countries does each strategy reach)?\n"
            "2. The programme offers partnerships to the best-scoring countries (readiness, alignment with the "
            "US, potential use: D1.4), and a country accepts when the offer is worth more than its lean "
            "towards another bloc (D1.5, D1.10). Does any country decline here? Which countries are never "
            "asked, and what would an offer to them have to contain?\n"
            "3. Open models can be adapted locally (D4.11). What does a country gain by choosing them, and "
            "what does it risk (D2.5, D4.10)?\n"
            "4. If you advised a mid-sized Global South government, which offer would you take? What would "
            "make you change your mind?\n"
            "5. Try it in the classroom page (`make app`): move *OpenAI partners: extra* and *China open-source "
            "push* and press Reset. Which lever moves the world map more?"
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


def main() -> None:
    for name, cells in LESSONS.items():
        notebook = new_notebook(cells=cells())
        _keep_cell_ids(notebook, HERE / name)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
