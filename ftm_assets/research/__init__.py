"""Worked research examples on the exported panels (optional ``research`` extra: linearmodels, statsmodels)."""
