"""Markdown tables for metadata: cells kept as given, pipes escaped, numbers right-aligned on request."""

from ftm_assets.markdown import markdown_table
from ftm_assets_tests.support.markdown import cells


def test_cells_are_shown_as_given_and_cannot_break_the_row():
    rows = [{"batch": "000", "firms": 12, "name": "Big | Co\nHoldings"}, {"batch": "001", "firms": 3, "name": None}]
    lines = markdown_table(rows, ["batch", "firms", "name"], right=["firms"]).splitlines()
    assert len(lines) == 4
    assert cells(lines[0]) == ["batch", "firms", "name"]
    assert [c.strip("-") for c in cells(lines[1])] == [":", ":", ":"] and cells(lines[1])[1].endswith(":")
    assert cells(lines[2]) == ["000", "12", "Big \\| Co Holdings"]  # "000" not parsed to 0; one row, one line
    assert cells(lines[3]) == ["001", "3", ""]  # None is an empty cell


def test_no_rows_no_table():
    assert markdown_table([], ["batch"]) == ""


def test_a_png_is_inlined_as_a_data_uri_that_decodes_back():
    import base64

    from ftm_assets.markdown import png_markdown

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    text = png_markdown("topics per firm", png)
    assert text.startswith("![topics per firm](data:image/png;base64,") and text.endswith(")")
    assert base64.b64decode(text.split("base64,", 1)[1][:-1]) == png
