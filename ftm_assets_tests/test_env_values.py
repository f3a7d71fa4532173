"""One value of an environment variable parsed for either side: blanks are unset, errors name the variable."""

import pytest

from ftm_assets.env_values import VariableError, read_int, read_switch, read_text


def test_blank_is_unset():
    assert read_text({"A": "  "}, "A") is None and read_int({}, "A", 0, 1) is None and read_switch({"A": ""}, "A") is None


def test_whole_numbers_within_bounds():
    assert read_int({"N": " 7 "}, "N", 1, None) == 7
    with pytest.raises(VariableError, match=r"N=0 is outside 1\.\.9 \(at least one\)"):
        read_int({"N": "0"}, "N", 1, 9, "at least one")
    with pytest.raises(VariableError, match="N='1.5' is not a whole number"):
        read_int({"N": "1.5"}, "N", 1, 9)


def test_switches():
    assert read_switch({"S": "Yes"}, "S") is True and read_switch({"S": "false"}, "S") is False
    with pytest.raises(VariableError, match="S='2' is not on or off"):
        read_switch({"S": "2"}, "S")
