"""Pictures of a quarter's themes, drawn with matplotlib (Agg, no display): PNG bytes, with axes and labels.

- ``heatmap_png``: top firms x top themes of a quarter, cell = the firm's share of its sentences on the theme;
- ``prevalence_png``: the top themes' share of all modelled sentences over every materialized quarter.
"""

from __future__ import annotations

import io

import pandas as pd


def _figure_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    sink = io.BytesIO()
    fig.savefig(sink, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return sink.getvalue()


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def heatmap_png(exposure: pd.DataFrame, themes: pd.DataFrame, quarter: str, top_firms: int = 30,
                top_themes: int = 20) -> bytes:
    """Firms with the largest summed share (rows) x themes with the most sentences (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    theme_order = themes.sort_values(["n_sentences", "theme_id"], ascending=[False, True]).head(top_themes)
    firm_order = (exposure.groupby(["firm_id", "firm_name"], dropna=False)["share"].sum()
                  .sort_values(ascending=False).head(top_firms))
    grid = exposure.pivot_table(index="firm_id", columns="theme_id", values="share", aggfunc="sum", fill_value=0.0)
    grid = grid.reindex(index=[f for f, _ in firm_order.index], columns=theme_order["theme_id"], fill_value=0.0)
    fig, ax = plt.subplots(figsize=(2.0 + 0.45 * max(len(grid.columns), 1), 1.5 + 0.28 * max(len(grid.index), 1)))
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", vmin=0)
    ax.set_xticks(range(len(grid.columns)))
    ax.set_xticklabels([_short(f"{t}: {lab}") for t, lab in zip(theme_order["theme_id"], theme_order["label"])],
                       rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(grid.index)))
    ax.set_yticklabels([_short(f"{name or f}", 28) for f, name in firm_order.index], fontsize=7)
    ax.set_xlabel("theme (largest first)")
    ax.set_ylabel("firm (most exposed first)")
    ax.set_title(f"{quarter}: share of each firm's non-procedural sentences on each theme")
    fig.colorbar(image, ax=ax, label="share of the firm's sentences")
    return _figure_png(fig)


def prevalence_png(prevalence: pd.DataFrame, labels: dict[str, str], top: int = 8) -> bytes:
    """``prevalence``: quarter x theme_id -> share of the quarter's modelled sentences; the ``top`` themes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = prevalence.sum(axis=0).sort_values(ascending=False).head(top).index
    fig, ax = plt.subplots(figsize=(8, 4.2))
    x = range(len(prevalence.index))
    for theme_id in order:
        ax.plot(x, prevalence[theme_id].to_numpy(), marker="o", label=_short(f"{theme_id}: {labels.get(theme_id, '')}", 50))
    ax.set_xticks(list(x))
    ax.set_xticklabels(list(prevalence.index), rotation=45, ha="right")
    ax.set_xlabel("quarter")
    ax.set_ylabel("share of all modelled sentences")
    ax.set_title("Prevalence of the top themes over the materialized quarters")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return _figure_png(fig)
