"""Blocs, regions and openness: their names, order, display labels and colours, defined once.

The world data (`sim.world`), the scenario schema (rules' `issuer`, `origin`, `bloc` fields), the
model's metrics, the figures, the report and the classroom page all read these; none writes the
list again. Order matters: it is the order of lines in every figure and legend, and of the bloc
columns in the model's country-by-bloc arrays.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), distinguishable
with the common colour-vision deficiencies and saturated enough for a projector: one colour per
bloc and per openness across every figure and page, so a class learns them once. Grey marks
"other" (the rest of the world, not a bloc) and black the world total.
"""

from __future__ import annotations

from typing import Literal, get_args

Bloc = Literal["US", "CN", "EU", "other"]
Region = Literal["north", "south"]
Openness = Literal["open", "closed"]

BLOCS: tuple[Bloc, ...] = get_args(Bloc)
REGIONS: tuple[Region, ...] = get_args(Region)
OPENNESS: tuple[Openness, ...] = get_args(Openness)
OTHER: Bloc = "other"  # the rest of the world: its countries do not favour each other's models

# How a bloc is named before "models" in sentences and legends ("Chinese models").
BLOC_ADJECTIVES: dict[Bloc, str] = {"US": "US", "CN": "Chinese", "EU": "EU", "other": "other"}

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
GREY = "#7F7F7F"  # not an Okabe-Ito hue: "other" is the neutral remainder, so it stays uncoloured

BLOC_COLOURS: dict[str, str] = {
    "US": OKABE_ITO["blue"],
    "CN": OKABE_ITO["vermillion"],
    "EU": OKABE_ITO["orange"],
    "other": GREY,
}
OPENNESS_COLOURS: dict[str, str] = {"open": OKABE_ITO["bluish green"], "closed": OKABE_ITO["reddish purple"]}
WORLD_COLOUR = OKABE_ITO["black"]
# Regions are drawn only beside the world total; sky blue and a dark brown (ColorBrewer BrBG) stay
# apart from each other and from black for every common colour-vision deficiency.
REGION_COLOURS: dict[str, str] = {"north": OKABE_ITO["sky blue"], "south": "#8C510A"}
