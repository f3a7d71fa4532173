"""installed_versions: the versions recorded in output metadata and embedding identities."""

from importlib import metadata

from ftm_assets.versions import installed_versions


def test_installed_distributions_give_their_versions_and_absent_ones_are_left_out():
    found = installed_versions(["numpy", "pyarrow", "no-such-distribution-ftm"])
    assert found == {"numpy": metadata.version("numpy"), "pyarrow": metadata.version("pyarrow")}
