"""FTM_THEME_* settings: read once in environment.py into the bound ThemeSettings resource, bad values named."""

import pytest

from ftm_assets.environment import ConfigError, Settings, resources


def test_theme_settings_come_from_the_environment():
    bound = resources(Settings.from_env({"FTM_THEME_MIN_FIRMS": "4", "FTM_THEME_MAX_FIRM_SHARE": "0.3"}))
    params = bound["theme_settings"].params()
    assert (params.min_firms, params.max_firm_share) == (4, 0.3)
    defaults = resources(Settings.from_env({}))["theme_settings"].params()
    assert (defaults.min_firms, defaults.max_firm_share) == (3, 0.4)
    exposure = resources(Settings.from_env({"FTM_THEME_SENTENCE_SIMILARITY": "0.55", "FTM_THEME_GENERIC_BREADTH": "0.7",
                                            "FTM_THEME_GENERIC_ANALYST_SHARE": "0.6"}))["theme_settings"].params()
    assert (exposure.sentence_similarity, exposure.generic_breadth, exposure.generic_analyst_share) == (0.55, 0.7, 0.6)
    assert exposure.fingerprint() != defaults.fingerprint()  # so stored themes go stale when they change


@pytest.mark.parametrize("env, message", [
    ({"FTM_THEME_MIN_FIRMS": "1"}, "FTM_THEME_MIN_FIRMS='1': .*greater than or equal to 2"),
    ({"FTM_THEME_MAX_FIRM_SHARE": "lots"}, "FTM_THEME_MAX_FIRM_SHARE='lots': .*number"),
    ({"FTM_THEME_GENERIC_BREADTH": "1.5"}, "FTM_THEME_GENERIC_BREADTH='1.5': .*less than or equal to 1"),
])
def test_bad_theme_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        resources(Settings.from_env(env))
