"""Behavioural parameters: every number the mechanisms use, with a default, a unit and a meaning.

Defaults are the baseline values. The parameters the calibration fits (scenarios/calibration/baseline.yaml)
are set to its ensemble's best member (docs/calibration.md); the others keep the published figures or
judgements their meanings name.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.fields import MAX_PARAMETER, StrictModel, param
from sim.quarters import Quarter


class AdoptionParameters(StrictModel):
    """Firms not yet using AI consider it at a Bass rate (Bass 1969; priors from Sultan et al. 1990) and adopt
    if what they can get beats going without (D0.8, D4.8, D4.12)."""

    initial_rate: float = param(
        0.1354, "share of potential adopters", "share of the firms that would ever adopt (below their sector's "
        "`adoption_ceiling`) using an AI model in the first quarter, at digital readiness 1 and average size",
        ge=0, le=1,
    )
    innovation: float = param(
        0.07773, "per year", "Bass innovation coefficient p (Sultan, Farley & Lehmann 1990: ~0.03/yr)", ge=0, le=2
    )
    imitation: float = param(
        0.4938, "per year", "Bass imitation coefficient q (Sultan, Farley & Lehmann 1990: 0.3-0.5/yr)", ge=0, le=5
    )
    readiness_elasticity: float = param(
        1.32, "exponent", "how strongly a country's digital readiness scales its adoption hazard (D0.8)", ge=0, le=5
    )
    size_elasticity: float = param(
        0.35, "exponent", "adoption hazard scales with firm size (relative to the smallest firm in scope) to "
        "this power. Plausible 0.2-0.5. Source: fitted to Eurostat isoc_eb_ai 2025, enterprises using AI by "
        "size class: small (10-49 employees) 17.0%, medium (50-249) 30.4%, large (250+) 55.0%; typical sizes "
        "about 18, 100 and 500 employees give ratios 1.8 and 3.2 = (100/18)^0.35 and (500/18)^0.35",
        ge=0, le=2,
    )
    no_ai_utility: float = param(
        0.1931, "utility", "utility of going on without AI, the outside option of the adoption choice: a firm "
        "that considers adopting (at the Bass rate) adopts with probability sum_j exp(u_j) / (exp(this) + "
        "sum_j exp(u_j)) over the release lines j it can get, their utilities u_j as in the family choice "
        "(the same logit with no AI as one more option, McFadden 1978). 0 is the zero of the choice "
        "utility: a frontier model at US$1 per million tokens from a neutral origin, without peers or risk, "
        "is a coin flip. Plausible -2 to 2 (a judgement); calibrated by history matching (docs/calibration.md)",
        ge=-10, le=10,
    )
    reevaluation_share: float = param(
        0.15, "share of adopters per quarter", "share of AI-using firms that re-choose their model family",
        ge=0, le=1,
    )
    upgrade_cycle_quarters: float = param(
        4.0, "quarters", "mean time a firm stays on a frozen release line (open weights its lab no longer "
        "updates, or a closed API its lab no longer develops) before it re-chooses, on top of "
        "`reevaluation_share`; each quarter 1/this of them re-choose. Plausible 2-12. Source: a judgement "
        "estimate; API providers retire superseded models about a year after their successors (OpenAI's "
        "2023 GPT-4 and GPT-3.5 snapshots, Google's Gemini stable versions), so firms on an API move within "
        "about a year, and self-hosted weights are kept at least as long",
        ge=1, le=40,
    )


class ChoiceParameters(StrictModel):
    """Weights of the firms' multinomial logit over model families (D2.3, D2.5, D4.10, D4.11)."""

    capability_weight: float = param(
        1.6, "utility per 12 months of capability", "value of capability, per year of frontier progress", ge=0
    )
    cost_weight: float = param(
        0.9, "utility per tenfold cost", "disutility of cost, per factor of ten in US$ per million tokens", ge=0
    )
    network_weight: float = param(
        1.5, "utility per unit share", "value of peers in the firm's country using the same family", ge=0
    )
    ecosystem_weight: float = param(
        0.6132, "utility per unit share", "value of peers using models of the same origin bloc (ecosystem)", ge=0
    )
    network_global_mix: float = param(
        0.3, "share", "weight of world-wide (rather than national) peers in the network effect (D2.4)", ge=0, le=1
    )
    alignment_weight: float = param(
        0.8119, "utility per unit alignment", "value of the technological alignment of the firm's country with the "
        "line's origin bloc, as 2 x alignment - 1 (see `alignment`; D1.5, D4.8); it is the only political term "
        "of the choice, data-transfer risk depends only on whether the provider is foreign",
        ge=0,
    )
    open_alignment_factor: float = param(
        0.4667, "ratio", "share of the alignment term that applies to self-hosted open weights: a closed service "
        "ties its users to the provider's bloc, downloaded weights much less (D2.1, D2.3)", ge=0, le=1
    )
    risk_weight: float = param(
        1.2, "utility per unit risk", "disutility of data-transfer, security and poisoning risk (D2.5)", ge=0
    )
    switching_cost: float = param(
        1.2, "utility", "bonus for keeping the family already in use (lock-in, Arthur 1989)", ge=0
    )
    large_firm_switching_multiplier: float = param(
        1.5, "ratio", "switching cost of a large firm relative to a small one", ge=0
    )
    hosting_cost_per_bparam: float = param(
        0.0129, "US$ per million tokens per billion active parameters", "cost of serving open weights yourself, "
        "per billion active parameters of the family's model (`active_params_b` in families.yaml), at full "
        "digital readiness and chip access in 2023: inference compute is about 2 x active parameters per token "
        "(Kaplan et al. 2020), so hosting cost scales with model size. Default: Llama 2 70B hosted at US$0.90 "
        "per Mtok (Together AI price list, 2023) / 70. Plausible 0.006-0.025 (hosted 70B models at US$0.4-1.8 "
        "per Mtok across providers, 2023-2024)",
        gt=0, le=1,
    )
    hosting_cost_decline: float = param(
        0.25, "share per year", "yearly fall of the cost of hosting a model of given size: GPU price-performance "
        "doubles about every 2.5 years (Hobbhahn & Besiroglu, Epoch AI 2022: 1 - 2^(-1/2.46) = 0.245). "
        "Plausible 0.15-0.5 (the upper end if inference software gains are counted)",
        ge=0, lt=1,
    )
    infrastructure_penalty: float = param(
        3.0, "ratio", "extra hosting cost at digital readiness 0 (cost x (1 + penalty x (1 - readiness)), D0.8)",
        ge=0,
    )
    compute_access_floor: float = param(
        0.2, "share", "lowest chip access used in hosting cost (grey markets, cloud abroad; D4.4)", gt=0, le=1
    )
    closed_price_decline: float = param(
        0.35, "share per year", "yearly fall of a closed family's list price beyond the data: after "
        "`prices_through` for a family with dated list prices (`prices` in families.yaml), from its release "
        "for one with only `price_usd_per_mtok` (blended 3:1). Listed: GPT-4 US$37.5 (2023-03) to GPT-4.1 US$3.5 "
        "(2025-04), about 68% a year; "
        "Claude 1 US$16.4 (2023-03) to Claude 3.5/4 Sonnet US$6 (2024-06 to 2025-05), about 37% a year; "
        "Gemini roughly flat (PaLM 2 US$2, Gemini 2.5 Pro US$3.4); default near the median family. Plausible "
        "0.2-0.7. Sources: the labs' price lists; Epoch AI (2025) finds the price of a fixed capability falls "
        "far faster (9-900x a year), which the capability term, not this one, carries",
        ge=0, lt=1,
    )
    open_local_adaptation: float = param(
        0.4, "utility", "bonus of open weights in Global South countries: local adaptation (D4.11, D4.12)", ge=0
    )


class RiskParameters(StrictModel):
    """Risk a firm attaches to a family, scaled by sector and privacy strictness (D2.5, D4.8, D4.10)."""

    data_transfer: float = param(
        0.5, "risk units", "risk of sending data abroad through a foreign closed API (D2.5, D4.8); the same for "
        "every foreign provider, since the political part is now the alignment term. v1 used 1.0 x (1 - "
        "affinity), whose mean over a country's US and CN providers was exactly 0.5 x 1.0 ((1 - a) / 2 + "
        "(1 + a) / 2 = 1): 0.5 keeps that mean level (a re-expression, not a fit). Plausible 0.25-1", ge=0
    )
    open_transfer_factor: float = param(
        0.3, "ratio", "data-transfer risk of self-hosted foreign open weights relative to a foreign API", ge=0, le=1
    )
    open_security: float = param(
        0.25, "risk units", "security and poisoning risk of open weights of any origin (D4.10)", ge=0
    )
    privacy_base: float = param(
        0.5, "ratio", "risk multiplier in a country with privacy strictness 0 (1 + this at strictness 1)", ge=0
    )
    government_multiplier: float = param(
        2.0, "ratio", "risk multiplier for government use relative to an average firm", ge=0
    )


class SectorParameters(StrictModel):
    """One sector of firms: its share, how much it weighs risk, and how many of its firms would ever use AI."""

    share: float = Field(description="share of firms in this sector [share]", ge=0, le=1)
    risk_sensitivity: float = Field(description="multiplier on the risk term of the choice [ratio]", ge=0,
                                    le=MAX_PARAMETER)
    adoption_ceiling: float = Field(
        0.7, gt=0, lt=1,
        description="share of the sector's firms that would ever use AI: adoption saturates here, below 100% "
        "(some firms find it inapplicable: the most common reason for not using AI in the US Census "
        "Bureau's BTOS, Bonney et al. 2024) [share]",
    )


def _default_sectors() -> dict[str, SectorParameters]:
    # Shares loosely follow business counts by sector; sensitivities order regulated sectors highest.
    # Ceilings (plausible 0.4-0.95; judgement estimates anchored on the highest adoption observed so far,
    # which a ceiling must exceed): Eurostat isoc_eb_ai, information and communication enterprises
    # 48.7% in 2024, large enterprises 55.0% in 2025; US Census BTOS AI supplement (Nov 2025-Feb
    # 2026), employment-weighted use 60-70% in AI-intensive sectors against 32% economy-wide;
    # BTOS 2023-24, 68-74% of businesses did not plan to use AI within six months, most saying it
    # does not apply to them (Bonney et al. 2024):
    # manual and in-person sectors stay lowest.
    return {
        "technology": SectorParameters(share=0.20, risk_sensitivity=0.6, adoption_ceiling=0.9),
        "finance": SectorParameters(share=0.12, risk_sensitivity=1.6, adoption_ceiling=0.8),
        "health": SectorParameters(share=0.10, risk_sensitivity=1.6, adoption_ceiling=0.6),
        "manufacturing": SectorParameters(share=0.23, risk_sensitivity=0.8, adoption_ceiling=0.55),
        "services": SectorParameters(share=0.30, risk_sensitivity=0.7, adoption_ceiling=0.6),
        "public": SectorParameters(share=0.05, risk_sensitivity=2.0, adoption_ceiling=0.7),
    }


class FirmParameters(StrictModel):
    """How firms are spread over countries, sectors and sizes."""

    gdp_exponent: float = param(
        1.0, "exponent", "firms per country are proportional to GDP to this power", ge=0, le=2
    )
    min_per_country: int = param(3, "firms", "fewest firms any country gets", ge=0, le=1000)
    size_pareto_exponent: float = param(
        1.06, "exponent", "tail exponent of the firm-size distribution (Pareto, sizes relative to the smallest "
        "firm in scope). Plausible 0.9-1.3. Source: Axtell (2001), Science 293:1818, US firm sizes in "
        "employees follow Zipf's law with exponent 1.059 (standard error 0.054)", gt=0.5, le=3,
    )
    size_max_ratio: float = param(
        100.0, "ratio", "largest firm size relative to the smallest (the Pareto is truncated here): with the "
        "smallest firm at 10 employees (Eurostat's survey scope) the largest represented firm has 1,000. "
        "Plausible 100-10,000. A judgement bound for precision, not a fact about firms: size-weighted metrics "
        "from n simulated firms are as precise as n / 4.6 equal firms at 100, n / 21 at 1,000 (a few "
        "simulated giants would carry a country's metrics); larger firms count as firms of this size", ge=1, le=1e6,
    )
    large_firm_size: float = param(
        25.0, "ratio", "size (relative to the smallest firm) from which a firm counts as large for switching "
        "costs: 250 employees with the smallest at 10, Eurostat's large-enterprise class; with the default "
        "Pareto about 3% of firms, as among EU enterprises with 10+ employees", ge=1, le=1e6,
    )
    sectors: dict[str, SectorParameters] = Field(
        default_factory=_default_sectors, description="sectors with their share of firms and risk sensitivity"
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> FirmParameters:
        total = sum(s.share for s in self.sectors.values())
        if not self.sectors or abs(total - 1.0) > 1e-6:
            raise ValueError(f"sector shares must sum to 1, they sum to {total:.4g}")
        return self


class LabParameters(StrictModel):
    """Capability growth and release strategy of labs (D3.2, D4.3, D4.4, D4.6)."""

    training_compute_growth: float = param(
        4.5, "ratio per year", "growth of the training compute of frontier models, for a lab whose country's AI "
        "compute grows at `compute_growth` (the rest is larger runs on a growing share of the fleet). "
        "Plausible 4-5. Source: Epoch AI, Sevilla & Roldan (2024), 'Training compute of frontier AI models "
        "grows by 4-5x per year'", gt=1, le=20,
    )
    algorithmic_efficiency_growth: float = param(
        3.0, "ratio per year", "yearly fall of the compute needed for the same capability (algorithmic "
        "progress) at the research frontier. Plausible 1.8-5.3. Source: Epoch AI, Ho et al. (2024), "
        "'Algorithmic progress in language models', arXiv 2403.05812: halving time about 8 months (95% CI "
        "5-14), i.e. about 3x a year", gt=1, le=20,
    )
    talent_elasticity: float = param(
        0.1, "exponent", "growth scales with the lab's research talent to this power", ge=0, le=2
    )
    open_spillover: float = param(
        0.08071, "share of gap per quarter", "share of its know-how gap to the best open release it can reach "
        "that a lab closes each quarter by fine-tuning and distillation (D3.2)", ge=0, le=1
    )
    closed_spillover: float = param(
        0.08234, "share of gap per quarter", "share of its know-how gap to the best closed model it can reach "
        "(its API not blocked to the lab's country) closed by papers, distillation and talent flows (D3.2, "
        "D3.3)", ge=0, le=1,
    )
    constraint_innovation: float = param(
        1.374, "ratio", "extra algorithmic progress of a lab whose country is denied all chips, in proportion to the "
        "share denied net of domestic substitution: efficiency work forced by chip controls (D4.4, D4.6)", ge=0, le=3
    )
    community_boost: float = param(
        0.25, "ratio", "extra algorithmic progress of an open-releasing lab at 100% open adoption share (D2.4, "
        "D4.2)", ge=0
    )
    release_interval: int = param(4, "quarters", "quarters between a lab's release decisions", ge=1, le=16)
    open_bias: float = param(
        -3.742, "log-odds", "log-odds of an open release for a lab at the frontier with full compute", ge=-20, le=20
    )
    open_gap_weight: float = param(
        3.232, "log-odds per year behind", "how much trailing the frontier favours open release "
        "(Mladenovic et al., arXiv 2604.16227)", ge=0,
    )
    open_compute_weight: float = param(
        1.5, "log-odds per unit shortfall", "how much a compute shortfall favours open release (D4.4, D4.6)", ge=0
    )
    openness_inertia: float = param(
        4.121, "log-odds", "bonus for keeping the current openness at a release decision", ge=0
    )
    closed_api_retirement_quarters: int = param(
        8, "quarters", "how long a lab that switched to open weights keeps serving its last closed model on "
        "its API before retiring it (its users must then re-choose); published weights are never withdrawn. "
        "Plausible 4-12. Source: a judgement estimate from API providers' deprecation notices, one to two "
        "years from successor to shutdown (OpenAI's 2023 model snapshots; Google's Gemini stable versions)",
        ge=1, le=40,
    )


class CountryParameters(StrictModel):
    """Countries invest in capacity and compute; governments pick a family (D0.8, D1.3)."""

    readiness_growth: float = param(
        0.04, "share of remaining gap per year", "yearly closing of the gap to full digital readiness (D0.8)",
        ge=0, le=1,
    )
    compute_growth: float = param(
        1.0, "growth per year", "yearly growth of a country's AI compute with full chip access", ge=0, le=10
    )
    domestic_substitution_growth: float = param(
        1.812, "ratio per year", "yearly growth of the share of denied chip imports that a country's domestic "
        "accelerators replace (its `domestic_chip_substitution` column describes 2025; the share is "
        "this to the power of the years since, capped at 1). Plausible 1.0-2.0. Source: a judgement "
        "estimate: Huawei plans about 600k Ascend 910C in 2026, about double 2025 (Bloomberg, 2025-09-29), "
        "while the demand it replaces grows with `compute_growth`; yields and more makers (SMIC N+2, "
        "Cambricon, Hygon) add a little (D4.3, D4.6)", ge=1, le=4,
    )
    compute_data_quarter: Quarter = param(
        "2025Q2", "quarter", "quarter the world data's compute shares describe (Epoch AI, May 2025); the "
        "model back-casts them to the start with the growth law and the chip access in force at the start",
    )
    government_weight: float = param(
        0.2, "share", "weight of the government, one large user, in a country's AI use (influence, dependence, "
        "open_adoption); the size-weighted firms carry the rest", ge=0, le=1
    )


class CollaborationParameters(StrictModel):
    """Cross-bloc research co-authorship (D3.1, D3.3, D0.7)."""

    papers_per_quarter: float = param(
        1120.0, "papers", "papers in the first quarter (NeurIPS 2024: 4,497 papers a year, D3.1)", gt=0, le=1e9
    )
    papers_growth: float = param(
        0.18, "share per year", "yearly growth of the paper count (NeurIPS 4,497 -> 5,290)", ge=-0.9, le=5
    )
    base_share: float = param(
        0.03127, "share of papers", "US-CN co-authored share at the reference tension (D3.1: ~3%)", ge=0, le=1
    )
    tension_sensitivity: float = param(
        0.8, "per unit tension", "relative fall of the co-authored share per unit of tension (D0.7)", ge=0
    )
    reference_tension: float = param(0.5, "tension units", "tension at which the share equals base_share", ge=0)
    tension: float = param(
        0.5, "tension units (0 calm, 1 rivalry)", "US-China tension when no tension rule sets it (D0.7)",
        ge=0, le=1,
    )


class AccessParameters(StrictModel):
    """Who may use what: service availability and controls for governments (design: access is data)."""

    government_block_share: float = param(
        0.5, "share of firms", "a government cannot use a release line when at least this share of its "
        "country's firms cannot (the lab does not serve the country, `unserved`/`service_abroad` in "
        "families.yaml, or an API or weight control blocks it): governments obey the firms' access rules, and "
        "for a single country the share is 0 or 1, so only aggregates of several countries depend on it. "
        "Plausible 0.3-0.7. Source: model definition (a majority of the aggregate's members)",
        gt=0, le=1,
    )


class AlignmentParameters(StrictModel):
    """Technological alignment of each country with the US, CN and EU stacks, and how policy moves it.

    The starting value is a weighted sum of sourced columns of countries.yaml (security ties, cloud
    providers, Huawei in telecoms, UN votes); the weights are judgement estimates, not fitted to any
    adoption figure. See sim/model/alignment.py.
    """

    security_weight: float = param(
        0.3, "alignment per unit tie", "weight of security ties (`us_security_tie`, `cn_security_tie`): "
        "alliances bind technology choices most (D0.1, D1.5). Judgement estimate; plausible 0.2-0.5", ge=0, le=1,
    )
    cloud_weight: float = param(
        0.25, "alignment per 3 providers", "weight of the bloc's hyperscalers operating regions in the country "
        "(`us_cloud_providers`, `cn_cloud_providers`, divided by 3): where the cloud stack comes from (D0.4, "
        "D1.6). Judgement estimate; plausible 0.1-0.4", ge=0, le=1,
    )
    telecom_weight: float = param(
        0.15, "alignment per unit", "weight of Chinese telecom equipment (`huawei_5g`): towards CN when present, "
        "towards the US when excluded (D4.4). Judgement estimate; plausible 0.05-0.3", ge=0, le=1,
    )
    platform_weight: float = param(
        0.2, "alignment per unit share", "weight of the bloc's everyday digital platforms, read as its search "
        "engines' share of searches (`us_search_share`, `cn_search_share`): firms that work on a bloc's "
        "platforms adopt its AI services most easily (D2.3). Judgement estimate; plausible 0.1-0.3", ge=0, le=1,
    )
    un_vote_weight: float = param(
        0.1, "alignment per unit", "weight of UN General Assembly voting (`us_alignment` rescaled to 0-1): a "
        "minor input, since voting with the G77 says little about a country's technology stack. Judgement "
        "estimate; plausible 0-0.2", ge=0, le=1,
    )
    eu_neutral: float = param(
        0.5, "alignment", "alignment of a non-member with the EU stack without an adequacy decision: EU models "
        "are neither favoured nor distrusted outside the EU (design choice of v1, kept)", ge=0, le=1,
    )
    eu_adequacy_weight: float = param(
        0.25, "alignment", "alignment added by an EU adequacy decision (`eu_adequacy`): data flow freely to "
        "EU providers (D0.5). Judgement estimate; plausible 0-0.4", ge=0, le=0.5,
    )
    control_push: float = param(
        0.05, "share of alignment per quarter per unit strength", "how fast an export control pushes each "
        "target's alignment with the issuer's bloc towards 0: a target of strength-1 controls loses 5% of it a "
        "quarter (D4.4: China answers controls by deepening ties elsewhere; the Tier 2 countries' objections to "
        "the 2025 Diffusion rule). Judgement estimate; plausible 0.01-0.15", ge=0, le=1,
    )
    program_pull: float = param(
        0.05, "share of the gap per quarter", "how fast a programme partner's alignment with the sponsor's bloc "
        "closes its gap to 1 (co-funded data centres and training bind the partner to the sponsor's stack: "
        "D1.5, D1.6, D1.10). Judgement estimate; plausible 0.01-0.15", ge=0, le=1,
    )
    alliance_pull: float = param(
        0.03, "share of the gap per quarter", "how fast an alliance member's alignment with the lead bloc closes "
        "its gap to 1 (common standards, D0.1, D0.9). Judgement estimate; plausible 0.01-0.1", ge=0, le=1,
    )
    tension_polarisation: float = param(
        0.02, "share of the US-CN gap per quarter per unit tension", "above the reference tension "
        "(`collaboration.reference_tension`), how fast a country's US-CN alignment gap widens: rivalry pushes "
        "countries to pick a side (D0.7). Judgement estimate; plausible 0-0.1", ge=0, le=1,
    )
    reversion: float = param(
        0.02, "share of the distance per quarter", "how fast alignment returns to its structural value from "
        "the data once a push or pull stops (half-life about 8.6 years at 0.02): installed networks and treaties "
        "change slowly. Judgement estimate; plausible 0-0.1", ge=0, le=1,
    )


class OfferParameters(StrictModel):
    """How a country values a programme offer against its alignment cost (D1.4, D1.5, D1.8)."""

    horizon_quarters: float = param(
        8.0, "quarters", "quarters of capacity building and compute a country counts when it weighs an offer "
        "(the first phase of OpenAI for Countries and Stargate builds, D1.6). Plausible 4-20", ge=1, le=80,
    )
    readiness_value: float = param(
        5.0, "utility per unit readiness", "value of the digital readiness an offer builds (D1.3, D0.8): "
        "+0.08 readiness is worth 0.4 utility. Judgement estimate; plausible 2-10", ge=0,
    )
    compute_value: float = param(
        0.5, "utility per e-fold of compute", "value of the data-centre compute an offer adds, per natural-log "
        "step over the country's own compute (D1.6). Judgement estimate; plausible 0.2-1", ge=0,
    )
    compute_floor: float = param(
        0.001, "share of world compute", "own compute counted at least this much when valuing added compute, so "
        "a country with none does not value a small data centre infinitely", gt=0, le=0.1,
    )
    alignment_cost: float = param(
        2.0, "utility per unit alignment gap", "cost of joining a sponsor per unit of the country's alignment "
        "with its closest rival bloc above its alignment with the sponsor's bloc (negative when it is closer "
        "to the sponsor: a bonus). A country accepts when the offer's value exceeds this cost (D1.5: the "
        "programme is meant to win countries that might otherwise lean towards Chinese models). Judgement "
        "estimate; plausible 1-4", ge=0,
    )


class StructureParameters(StrictModel):
    """Switches between a Model v2 mechanism (true, the default) and a deliberately simpler alternative.

    They exist for mutation testing (`sim check --mutants` runs the model with a mechanism broken and
    expects the validation checks to notice) and for structural sensitivity analysis; no scenario of the
    library turns one off.
    """

    capability_from_compute: bool = param(
        True, "switch", "true: a lab's capability grows with its own effective training compute (its bloc's "
        "chips under export controls, D4.3, D4.6); false: every lab has the same effective compute (the mean "
        "over labs), so chips and controls no longer separate labs",
    )
    adoption_responds_to_access: bool = param(
        True, "switch", "true: a firm's chance of adopting AI depends on the value of the lines it can get "
        "(after bans, controls and supported-country lists, D4.8); false: the value counts every released "
        "line as if nothing were banned, blocked or unserved (choice among lines still obeys access)",
    )
    releases_keep_openness: bool = param(
        True, "switch", "true: a lab's release policy applies to its next release and published weights stay "
        "available (D4.4, D4.11); false: on a policy switch the users (firms and governments) of the lab's "
        "old lines move at once to the new line, as if the family were relabelled (Model v1)",
    )


class Parameters(StrictModel):
    """All behavioural parameters, grouped by the mechanism that uses them."""

    adoption: AdoptionParameters = Field(default_factory=AdoptionParameters, description="firm adoption")
    choice: ChoiceParameters = Field(default_factory=ChoiceParameters, description="firm choice of family")
    risk: RiskParameters = Field(default_factory=RiskParameters, description="risk perceived in a family")
    firms: FirmParameters = Field(default_factory=FirmParameters, description="firm population")
    labs: LabParameters = Field(default_factory=LabParameters, description="lab growth and releases")
    countries: CountryParameters = Field(default_factory=CountryParameters, description="country dynamics")
    access: AccessParameters = Field(default_factory=AccessParameters, description="service access")
    alignment: AlignmentParameters = Field(
        default_factory=AlignmentParameters, description="technological alignment of countries with blocs"
    )
    offers: OfferParameters = Field(default_factory=OfferParameters, description="how countries weigh offers")
    collaboration: CollaborationParameters = Field(
        default_factory=CollaborationParameters, description="research collaboration"
    )
    structure: StructureParameters = Field(
        default_factory=StructureParameters,
        description="mechanism switches for mutation testing and structural sensitivity (default: Model v2)",
    )
