"""The figures' Agg canvas, its fonts read from memory instead of from their files.

matplotlib's FreeType fonts read their glyphs through a Python file object: each glyph of each text
drawn or measured is a seek and a read of the font file, ~33,000 of each for the five figures of a
`sim run` (~0.1 CPU s of the ~0.7 s they take). The same font files opened from their bytes in
memory give the same glyphs, so the same pixels, at about a third of the cost.

`MemoryFontCanvas` is matplotlib's Agg canvas whose renderer finds fonts as matplotlib does
(`fontManager`'s choice for the text's properties, its fallbacks and the Last Resort font) and
opens them from memory. It relies on matplotlib 3.11's Agg renderer (its `_prepare_font`, the
version pinned in pyproject.toml); figures drawn on any other canvas are unaffected.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import matplotlib as mpl
from matplotlib import cbook, ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.font_manager import FontPath, FontProperties, fontManager

FontFile = tuple[str, int]  # (real path, face index)


@functools.lru_cache(maxsize=64)
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


@functools.lru_cache(maxsize=64)
def _real(path: str) -> str:
    return os.path.realpath(path)


def _open(path: str, index: int, kerning: int, **options: object) -> ft2font.FT2Font:
    return ft2font.FT2Font(io.BytesIO(_font_bytes(path)), face_index=index, _kerning_factor=kerning,
                           **options)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _memory_font(files: tuple[FontFile, ...], kerning: int, thread_id: int, last_resort: bool) -> ft2font.FT2Font:
    """`matplotlib.font_manager._get_font` with the files opened from memory (thread_id: as matplotlib,
    one font object per thread: they are not thread-safe)."""
    (first, first_index), *rest = files
    fallbacks = [_open(path, index, kerning) for path, index in rest]
    resort = _real(str(cbook._get_data_path("fonts", "ttf", "LastResortHE-Regular.ttf")))
    try:
        resort_index = files.index((resort, 0))
    except ValueError:
        resort_index = -1
        if last_resort:  # glyphs missing from every font are drawn from it, as matplotlib does
            fallbacks.append(_open(resort, 0, kerning, _warn_if_used=True))
            resort_index = len(fallbacks)
    font = _open(first, first_index, kerning, _fallback_list=fallbacks)
    if resort_index == 0:  # its Unicode charmap is empty: use the first, as matplotlib does
        font.set_charmap(0)
    elif resort_index > 0:
        fallbacks[resort_index - 1].set_charmap(0)
    return font


# A font object must not cross a fork (it shares FreeType's library with the parent): children start afresh.
os.register_at_fork(after_in_child=_memory_font.cache_clear)


def memory_font(font_files: Iterable[str]) -> ft2font.FT2Font:
    """What `matplotlib.font_manager.get_font` gives for these files, opened from memory."""
    files = tuple((_real(f.path), f.face_index) if isinstance(f, FontPath) else (_real(f), 0) for f in font_files)
    font = _memory_font(files, mpl.rcParams["text.kerning_factor"], threading.get_ident(),
                        mpl.rcParams["font.enable_last_resort"])
    font._set_transform([[0x10000, 0], [0, 0x10000]], [0, 0])  # type: ignore[attr-defined]  # as get_font does
    return font


class MemoryFontRenderer(RendererAgg):
    """matplotlib's Agg renderer, its fonts opened from memory."""

    def _prepare_font(self, font_prop: FontProperties) -> ft2font.FT2Font:
        font = memory_font(fontManager._find_fonts_by_props(font_prop))
        font.clear()
        font.set_size(font_prop.get_size_in_points(), self.dpi)
        return font


class MemoryFontCanvas(FigureCanvasAgg):
    """matplotlib's Agg canvas drawing with `MemoryFontRenderer`."""

    def get_renderer(self) -> RendererAgg:
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:  # as FigureCanvasAgg: a renderer per size and resolution
            self.renderer = MemoryFontRenderer(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer
