"""Behavioural parameters: every number the mechanisms use, with a default, a unit and a meaning.

Defaults are the calibrated baseline values (see docs/calibration.md); the published figures
behind a default are named in its meaning.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.quarters import Quarter
from sim.scenario.fields import StrictModel, param


class AdoptionParameters(StrictModel):
    """Firms not yet using AI consider it at a Bass rate (Bass 1969; priors from Sultan et al. 1990) and adopt
    if what they can get beats going without (D0.8, D4.8, D4.12)."""

    initial_rate: float = param(
        0.12, "share of potential adopters", "share of the firms that would ever adopt (below their sector's "
        "`adoption_ceiling`) using an AI model in the first quarter, at digital readiness 1 and average size",
        ge=0, le=1,
    )
    innovation: float = param(
        0.03, "per year", "Bass innovation coefficient p (Sultan, Farley & Lehmann 1990: ~0.03/yr)", ge=0, le=2
    )
    imitation: float = param(
        0.38, "per year", "Bass imitation coefficient q (Sultan, Farley & Lehmann 1990: 0.3-0.5/yr)", ge=0, le=5
    )
    readiness_elasticity: float = param(
        1.0, "exponent", "how strongly a country's digital readiness scales its adoption hazard (D0.8)", ge=0, le=5
    )
    size_elasticity: float = param(
        0.35, "exponent", "adoption hazard scales with firm size (relative to the smallest firm in scope) to "
        "this power. Plausible 0.2-0.5. Source: fitted to Eurostat isoc_eb_ai 2025, enterprises using AI by "
        "size class: small (10-49 employees) 17.0%, medium (50-249) 30.4%, large (250+) 55.0%; typical sizes "
        "about 18, 100 and 500 employees give ratios 1.8 and 3.2 = (100/18)^0.35 and (500/18)^0.35",
        ge=0, le=2,
    )
    no_ai_utility: float = param(
        0.0, "utility", "utility of going on without AI, the outside option of the adoption choice: a firm "
        "that considers adopting (at the Bass rate) adopts with probability sum_j exp(u_j) / (exp(this) + "
        "sum_j exp(u_j)) over the release lines j it can get, their utilities u_j as in the family choice "
        "(the same logit with no AI as one more option, McFadden 1978). 0 is the zero of the choice "
        "utility: a frontier model at US$1 per million tokens from a neutral origin, without peers or risk, "
        "is a coin flip. Plausible -2 to 2. Source: a judgement estimate, not calibrated",
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
        0.8, "utility per unit share", "value of peers using models of the same origin bloc (ecosystem)", ge=0
    )
    network_global_mix: float = param(
        0.3, "share", "weight of world-wide (rather than national) peers in the network effect (D2.4)", ge=0, le=1
    )
    alignment_weight: float = param(
        1.0, "utility per unit affinity", "value of alignment between the firm's country and the family's origin",
        ge=0,
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
    open_hosting_cost: float = param(
        0.6, "US$ per million tokens", "cost of serving open weights yourself at full digital readiness", gt=0
    )
    infrastructure_penalty: float = param(
        3.0, "ratio", "extra hosting cost at digital readiness 0 (cost x (1 + penalty x (1 - readiness)), D0.8)",
        ge=0,
    )
    compute_access_floor: float = param(
        0.2, "share", "lowest chip access used in hosting cost (grey markets, cloud abroad; D4.4)", gt=0, le=1
    )
    closed_price_decline: float = param(
        0.35, "share per year", "yearly fall of closed-model prices at constant family", ge=0, lt=1
    )
    open_local_adaptation: float = param(
        0.4, "utility", "bonus of open weights in Global South countries: local adaptation (D4.11, D4.12)", ge=0
    )


class RiskParameters(StrictModel):
    """Risk a firm attaches to a family, scaled by sector and privacy strictness (D2.5, D4.8, D4.10)."""

    data_transfer: float = param(
        1.0, "risk units", "risk of sending data abroad through a foreign closed API (D2.5, D4.8)", ge=0
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
    risk_sensitivity: float = Field(description="multiplier on the risk term of the choice [ratio]", ge=0)
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
        "Pareto about 3% of firms, as among EU enterprises with 10+ employees", ge=1,
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
        0.2, "share of gap per quarter", "share of its know-how gap to the best open release it can reach "
        "that a lab closes each quarter by fine-tuning and distillation (D3.2)", ge=0, le=1
    )
    closed_spillover: float = param(
        0.07, "share of gap per quarter", "share of its know-how gap to the best closed model it can reach "
        "(its API not blocked to the lab's country) closed by papers, distillation and talent flows (D3.2, "
        "D3.3)", ge=0, le=1,
    )
    community_boost: float = param(
        0.25, "ratio", "extra algorithmic progress of an open-releasing lab at 100% open adoption share (D2.4, "
        "D4.2)", ge=0
    )
    release_interval: int = param(4, "quarters", "quarters between a lab's release decisions", ge=1, le=16)
    open_bias: float = param(
        -2.5, "log-odds", "log-odds of an open release for a lab at the frontier with full compute", ge=-20, le=20
    )
    open_gap_weight: float = param(
        3.0, "log-odds per year behind", "how much trailing the frontier favours open release "
        "(Mladenovic et al., arXiv 2604.16227)", ge=0,
    )
    open_compute_weight: float = param(
        1.5, "log-odds per unit shortfall", "how much a compute shortfall favours open release (D4.4, D4.6)", ge=0
    )
    openness_inertia: float = param(
        3.5, "log-odds", "bonus for keeping the current openness at a release decision", ge=0
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
        1.25, "ratio per year", "yearly growth of the share of denied chip imports that a country's domestic "
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
        0.2, "share", "weight of government use in a country's AI use (influence index)", ge=0, le=1
    )


class CollaborationParameters(StrictModel):
    """Cross-bloc research co-authorship (D3.1, D3.3, D0.7)."""

    papers_per_quarter: float = param(
        1120.0, "papers", "papers in the first quarter (NeurIPS 2024: 4,497 papers a year, D3.1)", gt=0
    )
    papers_growth: float = param(
        0.18, "share per year", "yearly growth of the paper count (NeurIPS 4,497 -> 5,290)", ge=-0.9, le=5
    )
    base_share: float = param(
        0.0302, "share of papers", "US-CN co-authored share at the reference tension (D3.1: ~3%)", ge=0, le=1
    )
    tension_sensitivity: float = param(
        0.8, "per unit tension", "relative fall of the co-authored share per unit of tension (D0.7)", ge=0
    )
    reference_tension: float = param(0.5, "tension units", "tension at which the share equals base_share", ge=0)
    tension: float = param(
        0.5, "tension units (0 calm, 1 rivalry)", "US-China tension when no tension rule sets it (D0.7)",
        ge=0, le=1,
    )


class Parameters(StrictModel):
    """All behavioural parameters, grouped by the mechanism that uses them."""

    adoption: AdoptionParameters = Field(default_factory=AdoptionParameters, description="firm adoption")
    choice: ChoiceParameters = Field(default_factory=ChoiceParameters, description="firm choice of family")
    risk: RiskParameters = Field(default_factory=RiskParameters, description="risk perceived in a family")
    firms: FirmParameters = Field(default_factory=FirmParameters, description="firm population")
    labs: LabParameters = Field(default_factory=LabParameters, description="lab growth and releases")
    countries: CountryParameters = Field(default_factory=CountryParameters, description="country dynamics")
    collaboration: CollaborationParameters = Field(
        default_factory=CollaborationParameters, description="research collaboration"
    )
