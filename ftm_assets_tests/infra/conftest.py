"""Fixtures of the infra tests: the parsed Terraform, and the tools venv (.venv-infra) with checkov and hadolint."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftm_assets_tests.infra.hcl import Infra, load_infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INFRA_BIN = PROJECT_ROOT / ".venv-infra" / "bin"


@pytest.fixture(scope="session")
def infra() -> Infra:
    pytest.importorskip("hcl2", reason="python-hcl2 is installed by `make infra-tools` (part of `make test`)")
    return load_infra()


@pytest.fixture(scope="session")
def infra_tool():
    """Path of a tool in .venv-infra; skips when that venv was not made (pytest run without `make test`)."""

    def find(name: str) -> Path:
        tool = INFRA_BIN / name
        if not tool.exists():
            pytest.skip(f"{tool} is missing: run `make infra-tools` (part of `make test`)")
        return tool

    return find
