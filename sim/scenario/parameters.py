"""Behavioural parameters: every number the mechanisms use, with a default, a unit and a meaning.

Defaults are the calibrated baseline values (see docs/calibration.md); the published figures
behind a default are named in its meaning.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.fields import StrictModel, param
from sim.quarters import Quarter


class AdoptionParameters(StrictModel):
    """Firms not yet using AI adopt at a Bass-like rate (Bass 1969; priors from Sultan et al. 1990)."""

    initial_rate: float = param(
        0.12, "share of firms", "share of firms using an AI model in the first quarter, at digital readiness 1",
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
    large_firm_multiplier: float = param(
        2.0, "ratio", "adoption hazard of a large firm relative to a small one", ge=0.1, le=20
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
    """One sector of firms: its share and how much it weighs risk."""

    share: float = Field(description="share of firms in this sector [share]", ge=0, le=1)
    risk_sensitivity: float = Field(description="multiplier on the risk term of the choice [ratio]", ge=0)


def _default_sectors() -> dict[str, SectorParameters]:
    # Shares loosely follow business counts by sector; sensitivities order regulated sectors highest.
    return {
        "technology": SectorParameters(share=0.20, risk_sensitivity=0.6),
        "finance": SectorParameters(share=0.12, risk_sensitivity=1.6),
        "health": SectorParameters(share=0.10, risk_sensitivity=1.6),
        "manufacturing": SectorParameters(share=0.23, risk_sensitivity=0.8),
        "services": SectorParameters(share=0.30, risk_sensitivity=0.7),
        "public": SectorParameters(share=0.05, risk_sensitivity=2.0),
    }


class FirmParameters(StrictModel):
    """How firms are spread over countries, sectors and sizes."""

    gdp_exponent: float = param(
        1.0, "exponent", "firms per country are proportional to GDP to this power", ge=0, le=2
    )
    min_per_country: int = param(3, "firms", "fewest firms any country gets", ge=0, le=1000)
    large_share: float = param(0.2, "share of firms", "share of firms that are large", ge=0, le=1)
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

    frontier_growth: float = param(
        3.0, "capability months per quarter", "capability growth of a lab at the largest effective compute", gt=0
    )
    compute_elasticity: float = param(
        0.05, "exponent", "growth scales with (effective compute / largest lab's) to this power (D4.6)", ge=0, le=2
    )
    talent_elasticity: float = param(
        0.1, "exponent", "growth scales with the lab's research talent to this power", ge=0, le=2
    )
    open_spillover: float = param(
        0.2, "share of gap per quarter", "share of the gap to the best open model a lab closes (D3.2)", ge=0, le=1
    )
    closed_spillover: float = param(
        0.07, "share of gap per quarter", "share of the gap to the best closed model closed by papers, "
        "distillation and talent flows (D3.2, D3.3)", ge=0, le=1,
    )
    community_boost: float = param(
        0.25, "ratio", "extra growth of an open release at 100% open adoption share (D2.4, D4.2)", ge=0
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
    domestic_substitution: float = param(
        0.8, "share", "share of compute growth lost to chip controls that domestic chips replace (D4.6)",
        ge=0, le=1,
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
