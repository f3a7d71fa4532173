"""Research on the exported panels: peers from theme exposure (``peers``, pandas only) and the README's worked
example (``example``; optional ``research`` extra: linearmodels, statsmodels)."""
