"""HTML pages (the run report, the comparison page) rendered from the Jinja2 templates in `sim/templates/`.

Templates ship as package data and are read through `jinja2.PackageLoader`, so an installed `sim`
renders its pages from any working directory. Autoescape is on: every value a page shows (scenario
names and descriptions, rule summaries, event text, claims) is HTML-escaped unless a template says
otherwise, which none does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

MISSING_CLAIM = "claim text not found in the sources list"


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment of the package's pages (autoescaped, strict about undefined names)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sim", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        undefined=jinja2.StrictUndefined,  # a misspelt name in a template fails the test, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """Render one template of `sim/templates/` with `context`."""
    return environment().get_template(template).render(missing_claim=MISSING_CLAIM, **context)


def inline_pngs(figures: Mapping[str, bytes]) -> list[tuple[str, str]]:
    """(name, `data:` URI) of each image (PNG, or SVG): the pages embed their images and open offline."""
    return [(name, data_uri(image)) for name, image in figures.items()]


def data_uri(image: bytes) -> str:
    """A `data:` URI of PNG or SVG bytes (told apart by their first bytes)."""
    mime = "image/png" if image.startswith(b"\x89PNG") else "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
