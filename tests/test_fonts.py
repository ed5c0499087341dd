"""The figures' canvas reads its fonts from memory: the pixels must be matplotlib's own."""

from __future__ import annotations

import io
import warnings

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.outputs.fonts import MemoryFontCanvas


def _png(canvas: type[FigureCanvasAgg]) -> bytes:
    fig = Figure(figsize=(4, 2.5), dpi=110)
    canvas(fig)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0.2, 0.8, 0.5], label="open weights")
    ax.set_title("Influence — bloc CN · 2030Q4 … 中国", loc="left", fontweight="bold")  # a fallback glyph too
    ax.set_xticks([0, 1, 2], ["2023Q1", "2024Q1", "2025Q1"])
    ax.annotate("region south", xy=(2, 0.5), xytext=(1.02, 0.3), textcoords="axes fraction", fontsize=8,
                arrowprops={"arrowstyle": "-"})
    ax.text(0.5, 0.5, "italic note", style="italic", transform=ax.transAxes)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns that 中国 is missing from DejaVu Sans
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def test_memory_fonts_draw_the_same_pixels_as_matplotlib() -> None:
    assert _png(MemoryFontCanvas) == _png(FigureCanvasAgg)

