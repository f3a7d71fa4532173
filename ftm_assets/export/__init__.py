"""Exports for pandas, R and Stata: ``python -m ftm_assets.export panel --quarters 2023Q1:2024Q4 --out panel.dta``."""
