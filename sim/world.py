"""World data: countries, AI labs and model families (`scenarios/data/countries.yaml`, `families.yaml`).

These models are the schema of the two data files; `docs/data.md` is generated from them and the files'
`columns` tables by `world_columns_markdown()`. `parse_world` validates the loaded YAML documents and
raises `pydantic.ValidationError`; each error's `loc` starts with the file it concerns ("countries" or
"families") followed by the path inside that file, e.g. `("countries", "countries", 3, "bloc")` or
`("families", "labs", 2, "country")`, so a caller can map it to FILE:LINE:COLUMN.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from os import PathLike
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sim.blocs import BLOCS, REGIONS, Bloc, Openness, Region
from sim.errors import did_you_mean
from sim.resources import data_dir

Quarter = Annotated[str, Field(pattern=r"^\d{4}Q[1-4]$")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]

COMPUTE_SHARE_TOLERANCE = 0.01  # countries' ai_compute_share must sum to 1 within this
INPUT_TOKENS_PER_OUTPUT = 3  # blended prices weigh input and output tokens 3:1 (as `price_usd_per_mtok`)
PRICE_TOLERANCE = 0.02  # a listed price at release must match `price_usd_per_mtok` within 2% (rounding)


class _Frozen(BaseModel):
    # strict: a quoted number or a "yes" string in the data is an error, not silently coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    error_type = PydanticCustomError(kind, "{message}", {"message": message})
    return InitErrorDetails(type=error_type, loc=loc, input=value)


def _raise_if(errors: list[InitErrorDetails], title: str) -> None:
    # A ValidationError raised inside a validator keeps these locs (prefixed by the enclosing path).
    if errors:
        raise ValidationError.from_exception_data(title, errors)


class ColumnMeta(_Frozen):
    """What one data column means, in which unit, from which source and for which year."""

    meaning: str = Field(min_length=1, description="one-line meaning of the column (text)")
    unit: str = Field(min_length=1, description="unit of the values, or 'text'/'code' (text)")
    source: str = Field(min_length=1, description="named public source or 'Model definition' (text)")
    year: int | None = Field(description="reference year of the values (calendar year), null if timeless")


class CountryRecord(_Frozen):
    """One economy, or a regional aggregate of economies (iso3 starting with X)."""

    iso3: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 code; X.. for aggregates (code)")
    name: str = Field(min_length=1, description="English name, or the aggregate's description (text)")
    bloc: Bloc = Field(description=f"geopolitical bloc: {', '.join(BLOCS[:-1])} or {BLOCS[-1]} (category)")
    region: Region = Field(description="Global North or South (category)")
    gdp_usd_bn: float = Field(gt=0, description="GDP in 2023 (billion current US$)")
    population_m: float = Field(gt=0, description="population in 2023 (million people)")
    digital_readiness: Share = Field(description="government AI readiness (index 0-1)")
    ai_talent: Share = Field(description="AI talent depth, USA = 1 (index 0-1)")
    privacy_strictness: Share = Field(description="strength of the data-protection regime (index 0-1)")
    export_tier: Literal[1, 2, 3] = Field(description="US AI Diffusion rule tier (1, 2 or 3)")
    eu_member: bool = Field(description="member of the European Union (boolean)")
    us_alignment: float = Field(ge=-1.0, le=1.0, description="alignment, US = +1, China = -1 (index -1..1)")
    ai_compute_share: Share = Field(description="share of world AI compute, 2025 (fraction of world)")
    us_security_tie: Share = Field(description="security tie with the US: treaty 1, MNNA 0.5, MDP 0.25 (index 0-1)")
    cn_security_tie: Share = Field(description="security tie with China: treaty 1, SCO member 0.5 (index 0-1)")
    huawei_5g: Share = Field(description="Huawei/ZTE in 4G/5G radio networks: main 1, restricted 0.5 (index 0-1)")
    us_cloud_providers: float = Field(ge=0, le=3, description="US hyperscalers with a region here (0-3)")
    cn_cloud_providers: float = Field(ge=0, le=3, description="Chinese hyperscalers with a region here (0-3)")
    us_search_share: Share = Field(description="share of web searches on US search engines (0-1)")
    cn_search_share: Share = Field(description="share of web searches on Chinese search engines (0-1)")
    eu_adequacy: Share = Field(description="EU data-protection adequacy or GDPR applies (index 0-1)")
    is_aggregate: bool = Field(description="true for a regional aggregate (boolean)")
    # Optional: most countries make no AI accelerators of their own (0 when the row omits it).
    domestic_chip_substitution: Share = Field(
        0.0, description="share of denied chip imports domestic accelerators replace, 2025 (fraction 0-1)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CountryRecord:
        errors = []
        if self.is_aggregate != self.iso3.startswith("X"):
            message = f"is_aggregate must be true exactly when iso3 starts with X (iso3 is '{self.iso3}')"
            errors.append(_error(("is_aggregate",), "aggregate_code", message, self.is_aggregate))
        if self.eu_member != (self.bloc == "EU"):
            message = (f"bloc is '{self.bloc}' but eu_member is {str(self.eu_member).lower()}: "
                       "EU members have bloc EU, and only they do")
            errors.append(_error(("bloc",), "eu_bloc", message, self.bloc))
        _raise_if(errors, "CountryRecord")
        return self


class LabRecord(_Frozen):
    """An AI lab that releases model families."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="lowercase identifier (identifier)")
    name: str = Field(min_length=1, description="display name (text)")
    country: str = Field(pattern=r"^[A-Z]{3}$", description="headquarters country (iso3 code)")
    compute_share: Share = Field(description="share of its bloc's frontier-lab AI compute (fraction of bloc)")
    service_abroad: Share = Field(description="share of firms outside the lab's bloc its closed services reach (0-1)")
    unserved: dict[str, Share] = Field(
        description="countries its closed services do not serve: ISO3 -> share of firms outside (0-1)"
    )
    talent: Share = Field(description="relative research talent, strongest labs = 1 (index 0-1)")
    note: str | None = Field(default=None, description="optional free-text note (text)")


class FamilyRecord(_Frozen):
    """A family of AI models (successive releases under one name) owned by one lab."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="lowercase identifier (identifier)")
    name: str = Field(min_length=1, description="display name (text)")
    lab: str = Field(description="id of the owning lab (identifier)")
    origin: Bloc = Field(description="bloc of the lab's country (category)")
    openness: Openness = Field(description="open or closed weights at first release (category)")
    released: Quarter = Field(description="quarter of first public release, 2023Q1 at the earliest (YYYYQn)")
    release_lag_months: float = Field(ge=0, description="lag behind the closed frontier at release (months)")
    price_usd_per_mtok: float = Field(gt=0, description="blended price at first release (US$ per million tokens)")
    active_params_b: float = Field(gt=0, description="active parameters of its most-used open model (billion)")
    note: str | None = Field(default=None, description="optional free-text note (text)")


class PriceRecord(_Frozen):
    """One dated list price of a family's closed API (its lab's published price list)."""

    family: str = Field(description="id of the family the price is for (identifier)")
    quarter: Quarter = Field(description="quarter from which the price is listed (YYYYQn)")
    announced: date = Field(description="date the price was announced or took effect (YYYY-MM-DD)")
    model: str = Field(min_length=1, description="model and tier the price refers to (text)")
    input_usd_per_mtok: float = Field(gt=0, description="list price of input tokens (US$ per million tokens)")
    output_usd_per_mtok: float = Field(gt=0, description="list price of output tokens (US$ per million tokens)")
    reference: str = Field(min_length=1, description="where the price is published, with its date (text)")
    note: str | None = Field(default=None, description="optional free-text note (text)")

    @property
    def blended_usd_per_mtok(self) -> float:
        """The blended price at 3 input tokens per output token, like `price_usd_per_mtok`."""
        return (INPUT_TOKENS_PER_OUTPUT * self.input_usd_per_mtok + self.output_usd_per_mtok) / (
            INPUT_TOKENS_PER_OUTPUT + 1
        )

    @model_validator(mode="after")
    def _announced_in_quarter(self) -> PriceRecord:
        inside = f"{self.announced.year}Q{(self.announced.month - 1) // 3 + 1}"
        if inside != self.quarter:
            message = f"announced {self.announced.isoformat()} is in {inside}, not in quarter {self.quarter}"
            _raise_if([_error(("quarter",), "quarter_mismatch", message, self.quarter)], "PriceRecord")
        return self


def _price_errors(prices: tuple[PriceRecord, ...], families: tuple[FamilyRecord, ...]) -> list[InitErrorDetails]:
    """Each price names a known family, no earlier than its release, in strictly increasing quarters per
    family; a price at the release quarter agrees with the family's `price_usd_per_mtok`."""
    by_id = {f.id: f for f in families}
    last: dict[str, tuple[int, str]] = {}  # family -> (row, quarter) of its latest price so far
    errors = []
    for i, price in enumerate(prices):
        family = by_id.get(price.family)
        if family is None:
            errors.append(_error(("prices", i, "family"), "unknown_family", f"unknown family '{price.family}'"
                                 f"{did_you_mean(price.family, by_id)}; known families: {', '.join(by_id)}",
                                 price.family))
            continue
        if price.quarter < family.released:  # quarter labels sort in time order
            errors.append(_error(("prices", i, "quarter"), "before_release", f"quarter {price.quarter} is before "
                                 f"family '{family.id}' was released ({family.released})", price.quarter))
        elif price.quarter == family.released and not _close(price.blended_usd_per_mtok, family.price_usd_per_mtok):
            message = (f"blended price {price.blended_usd_per_mtok:g} at the release quarter contradicts the "
                       f"family's price_usd_per_mtok {family.price_usd_per_mtok:g}")
            errors.append(_error(("prices", i, "input_usd_per_mtok"), "release_price_mismatch", message,
                                 price.input_usd_per_mtok))
        if price.family in last and price.quarter <= last[price.family][1]:
            row, quarter = last[price.family]
            message = (f"quarter {price.quarter} is not after {quarter} (prices[{row}]); list each family's prices "
                       "in time order, one per quarter")
            errors.append(_error(("prices", i, "quarter"), "quarter_order", message, price.quarter))
        if price.family not in last or price.quarter > last[price.family][1]:
            last[price.family] = (i, price.quarter)
    return errors


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= PRICE_TOLERANCE * max(a, b)


def _column_errors(columns: dict[str, ColumnMeta], *records: type[BaseModel]) -> list[InitErrorDetails]:
    """Every column of the records has a `columns` entry, and every entry is a column."""
    fields = {name for record in records for name in record.model_fields}
    errors = [_error(("columns",), "missing_column_meta", f"column '{name}' has no entry in `columns` "
                     "(give its meaning, unit, source and year)", name)
              for name in sorted(fields - columns.keys())]
    errors += [_error(("columns", name), "unknown_column", f"'{name}' is not a column of this file"
                      f"{did_you_mean(name, fields)}; allowed: {', '.join(sorted(fields))}", name)
               for name in sorted(columns.keys() - fields)]
    return errors


def _duplicate_errors(section: str, rows: tuple[BaseModel, ...], key: str) -> list[InitErrorDetails]:
    first: dict[str, int] = {}
    errors = []
    for i, row in enumerate(rows):
        value = getattr(row, key)
        if value in first:
            message = f"duplicate {key} '{value}' (already used by {section}[{first[value]}])"
            errors.append(_error((section, i, key), "duplicate_id", message, value))
        first.setdefault(value, i)
    return errors


class CountriesFile(_Frozen):
    """The document in countries.yaml."""

    columns: dict[str, ColumnMeta] = Field(description="meaning, unit, source and year of every column")
    countries: tuple[CountryRecord, ...] = Field(strict=False, min_length=1, description="economies")

    @model_validator(mode="after")
    def _check(self) -> CountriesFile:
        errors = _column_errors(self.columns, CountryRecord)
        errors += _duplicate_errors("countries", self.countries, "iso3")
        total = sum(c.ai_compute_share for c in self.countries)
        if abs(total - 1.0) > COMPUTE_SHARE_TOLERANCE:
            message = f"ai_compute_share sums to {total:.3f}; must be 1 within {COMPUTE_SHARE_TOLERANCE}"
            errors.append(_error(("countries",), "compute_share_sum", message, total))
        _raise_if(errors, "CountriesFile")
        return self


class FamiliesFile(_Frozen):
    """The document in families.yaml."""

    columns: dict[str, ColumnMeta] = Field(description="meaning, unit, source and year of every column")
    labs: tuple[LabRecord, ...] = Field(strict=False, min_length=1, description="AI labs")
    families: tuple[FamilyRecord, ...] = Field(strict=False, min_length=1, description="model families")
    prices: tuple[PriceRecord, ...] = Field(
        (), strict=False, description="dated list prices of the families' closed APIs, in time order per family"
    )
    prices_through: Quarter | None = Field(
        None, description="last quarter the listed prices were checked for: each family's last price holds "
        "until then (YYYYQn; required with `prices`)"
    )

    @model_validator(mode="after")
    def _check(self) -> FamiliesFile:
        errors = _column_errors(self.columns, LabRecord, FamilyRecord, PriceRecord)
        errors += _duplicate_errors("labs", self.labs, "id")
        errors += _duplicate_errors("families", self.families, "id")
        lab_ids = [lab.id for lab in self.labs]
        errors += [_error(("families", i, "lab"), "unknown_lab", f"unknown lab '{f.lab}'"
                          f"{did_you_mean(f.lab, lab_ids)}; known labs: {', '.join(lab_ids)}", f.lab)
                   for i, f in enumerate(self.families) if f.lab not in lab_ids]
        errors += _price_errors(self.prices, self.families)
        if self.prices and self.prices_through is None:
            errors.append(_error(("prices_through",), "missing", "prices_through is required with `prices`: the "
                                 "last quarter the listed prices were checked for (like 2025Q4)", None))
        errors += [_error(("prices", i, "quarter"), "after_prices_through", f"quarter {p.quarter} is after "
                          f"prices_through {self.prices_through}", p.quarter)
                   for i, p in enumerate(self.prices) if self.prices_through and p.quarter > self.prices_through]
        _raise_if(errors, "FamiliesFile")
        return self


class WorldFiles(_Frozen):
    """Both documents together, for the checks that cross them; error locs start with the file key."""

    countries: CountriesFile
    families: FamiliesFile

    @model_validator(mode="after")
    def _cross_check(self) -> WorldFiles:
        bloc_of = {c.iso3: c.bloc for c in self.countries.countries}
        labs, families = self.families.labs, self.families.families
        lab_bloc = {lab.id: bloc_of[lab.country] for lab in labs if lab.country in bloc_of}
        errors = [_error(("families", "labs", i, "country"), "unknown_country",
                         f"unknown country '{lab.country}'{did_you_mean(lab.country, bloc_of)}; "
                         "use an iso3 of countries.yaml", lab.country)
                  for i, lab in enumerate(labs) if lab.country not in bloc_of]
        errors += [_error(("families", "labs", i, "unserved", code), "unknown_country",
                          f"unknown country '{code}'{did_you_mean(code, bloc_of)}; use an iso3 of countries.yaml", code)
                   for i, lab in enumerate(labs) for code in lab.unserved if code not in bloc_of]
        errors += [_error(("families", "families", i, "origin"), "origin_mismatch",
                          f"origin is '{f.origin}'; lab '{f.lab}' is in bloc '{lab_bloc[f.lab]}'", f.origin)
                   for i, f in enumerate(families) if f.lab in lab_bloc and f.origin != lab_bloc[f.lab]]
        for bloc in sorted(set(lab_bloc.values())):
            total = sum(lab.compute_share for lab in labs if lab_bloc.get(lab.id) == bloc)
            if total > 1.0 + 1e-9:
                message = f"compute_share of the labs in bloc '{bloc}' sums to {total:.3f}; max is 1"
                errors.append(_error(("families", "labs"), "compute_share_sum", message, total))
        _raise_if(errors, "World")
        return self


class World(_Frozen):
    """The validated world data: countries, labs and model families, with their column metadata."""

    country_columns: dict[str, ColumnMeta] = Field(description="metadata of the countries.yaml columns")
    family_columns: dict[str, ColumnMeta] = Field(description="metadata of the families.yaml columns")
    countries: tuple[CountryRecord, ...] = Field(description="economies and aggregates, in file order")
    labs: tuple[LabRecord, ...] = Field(description="AI labs, in file order")
    families: tuple[FamilyRecord, ...] = Field(description="model families, in file order")
    prices: tuple[PriceRecord, ...] = Field((), description="dated list prices of closed APIs, in file order")
    prices_through: str | None = Field(None, description="last quarter the listed prices were checked for")

    @cached_property
    def iso3s(self) -> tuple[str, ...]:
        return tuple(c.iso3 for c in self.countries)

    @cached_property
    def lab_ids(self) -> tuple[str, ...]:
        return tuple(lab.id for lab in self.labs)

    @cached_property
    def family_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.families)

    @cached_property
    def country_index(self) -> dict[str, int]:
        return {iso3: i for i, iso3 in enumerate(self.iso3s)}

    @cached_property
    def lab_index(self) -> dict[str, int]:
        return {lab_id: i for i, lab_id in enumerate(self.lab_ids)}

    @cached_property
    def family_index(self) -> dict[str, int]:
        return {family_id: i for i, family_id in enumerate(self.family_ids)}

    def country(self, iso3: str) -> CountryRecord:
        """The record of one country by iso3 (KeyError if unknown)."""
        return self.countries[self.country_index[iso3]]

    def lab(self, lab_id: str) -> LabRecord:
        """The record of one lab by id (KeyError if unknown)."""
        return self.labs[self.lab_index[lab_id]]

    def price_schedule(self, family_id: str) -> list[tuple[str, float]]:
        """(quarter, blended US$ per Mtok) of a family's closed API in time order: its price at first
        release (`price_usd_per_mtok`), then the dated list prices of `prices` (a price listed at the
        release quarter replaces the first one)."""
        family = self.families[self.family_index[family_id]]
        listed = [(p.quarter, p.blended_usd_per_mtok) for p in self.prices if p.family == family_id]
        if not listed or listed[0][0] != family.released:
            listed.insert(0, (family.released, family.price_usd_per_mtok))
        return listed

    def price_trend_from(self, family_id: str) -> str:
        """Quarter from which a family's closed-API price falls at `closed_price_decline`: the end of the
        checked data (`prices_through`) for a family with listed prices, else its release."""
        family = self.families[self.family_index[family_id]]
        listed = any(p.family == family_id for p in self.prices)
        return self.prices_through if listed and self.prices_through else family.released


def parse_world(countries: dict[str, Any], families: dict[str, Any]) -> World:
    """Validate the loaded countries.yaml and families.yaml documents; raises pydantic.ValidationError."""
    files = WorldFiles.model_validate({"countries": countries, "families": families})
    return World(country_columns=files.countries.columns, family_columns=files.families.columns,
                 countries=files.countries.countries, labs=files.families.labs,
                 families=files.families.families, prices=files.families.prices,
                 prices_through=files.families.prices_through)


def load_world(countries_path: str | PathLike[str] | None = None,
               families_path: str | PathLike[str] | None = None) -> World:
    """Read and validate the two world data files (safe YAML loader only); default the built-in ones."""
    countries_path = countries_path or data_dir() / "countries.yaml"
    families_path = families_path or data_dir() / "families.yaml"
    from sim.yamlio import load_yaml_file  # the one safe reader of user files (no pipes, devices, loops)

    return parse_world(load_yaml_file(countries_path).data, load_yaml_file(families_path).data)



_DOC_INTRO = (
    "`scenarios/data/countries.yaml` holds the economies and the regional aggregates (iso3 starting with X)\n"
    "that together cover the world; `scenarios/data/families.yaml` holds the AI labs and their model\n"
    "families. Both are validated by `sim/world.py`. Figures are approximate readings of the named sources,\n"
    "rounded; estimated values are flagged in each column's meaning. Check a figure against its source\n"
    "before quoting it."
)

_PRICES_INTRO = (
    "`prices` in families.yaml: the dated list prices of the families' closed APIs (US$ per million tokens).\n"
    "A family's closed line costs its first price (`price_usd_per_mtok`) and then each listed price from its\n"
    "quarter (piecewise constant); the last one holds through {through} (`prices_through`, the quarter the\n"
    "prices were checked for) and then falls at `closed_price_decline` a year. A family not listed here keeps\n"
    "its first price, falling at that rate from its release. Open weights cost their hosting, not these prices."
)


def _table(header: str, rows: list[list[str]]) -> list[str]:
    cells = header.split(",")
    lines = ["| " + " | ".join(cells) + " |", "|" + "---|" * len(cells)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def world_columns_markdown(world: World | None = None) -> str:
    """The docs/data.md page: every column of both files, the bloc/region/tier mappings and the families."""
    world = world or load_world()
    meta = [[f"`{name}`", m.meaning, m.unit, m.source, "" if m.year is None else str(m.year)]
            for columns in (world.country_columns, world.family_columns) for name, m in columns.items()]
    n_country = len(world.country_columns)
    groups: list[tuple[str, str | int]] = [("bloc", b) for b in BLOCS] + [("region", r) for r in REGIONS]
    groups += [("export_tier", t) for t in (1, 2, 3)]
    mapping = [[f"{attr} = {value}", ", ".join(c.iso3 for c in world.countries if getattr(c, attr) == value)]
               for attr, value in groups]
    families = [[f"`{f.id}`", f.name, world.lab(f.lab).name, f.origin, f.openness, f.released,
                 f"{f.release_lag_months:g}", f"{f.price_usd_per_mtok:g}"] for f in world.families]
    listed = [[f"`{p.family}`", p.quarter, p.announced.isoformat(), p.model, f"{p.input_usd_per_mtok:g}",
               f"{p.output_usd_per_mtok:g}", f"{p.blended_usd_per_mtok:.4g}", p.reference] for p in world.prices]
    head = "column,meaning,unit,source,year"
    lines = ["# World data", "", "<!-- Generated by sim.world.world_columns_markdown(); do not edit -->",
             "", _DOC_INTRO, "", "## countries.yaml", "", *_table(head, meta[:n_country]), "",
             "## families.yaml", "", *_table(head, meta[n_country:]), "", "## Mappings", "",
             *_table("group,members", mapping), "", "## Model families", "",
             *_table("id,family,lab,origin,openness,released,lag (months),price (US$/Mtok)", families), "",
             "## List prices of closed APIs", "", _PRICES_INTRO.format(through=world.prices_through), "",
             *_table("family,quarter,announced,model,input,output,blended 3:1 (US$/Mtok),reference", listed)]
    return "\n".join(lines) + "\n"
