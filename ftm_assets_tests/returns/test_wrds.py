"""The WRDS returns prefetch (one streaming query over CRSP's CIZ tables, or the legacy dsf/dsedelist/dsi, and the
calls' start times) on the test database, end to end through compute_call_returns, against the hand computation:
both formats give the same CARs, the delisting return included."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ftm_assets.returns.car import compute_call_returns
from ftm_assets.returns.wrds import fetch_returns
from ftm_assets.transcripts.wrds import WrdsSettings
from ftm_assets_tests.support import capital_iq as ciq
from ftm_assets_tests.support import crsp as T

DB = "wrds_crsp"


@pytest.fixture(scope="module")
def settings(pg_server) -> WrdsSettings:
    ciq.ensure_rules_database(pg_server)  # the reader login
    detail = []
    for firm_id, call_id, _, _, start, _ in T.CALLS:
        row = list(ciq.detail_row(int(firm_id), f"Firm {firm_id}", call_id, call_id * 10, start.date().isoformat()))
        row[5] = start.time().isoformat()
        detail.append(tuple(row))
    ciq.create_capital_iq_database(pg_server, DB, {"ciq_transcripts.wrds_transcript_detail": detail})
    conn = pg_server.connect(DB)
    try:
        T.load_crsp(conn)
        with conn.cursor() as cur:
            ciq.grant_read(cur, ciq.READER)
    finally:
        conn.close()
    return WrdsSettings(username=ciq.READER, password=ciq.READER_PASSWORD, host=pg_server.host,
                        port=pg_server.port, dbname=DB, sslmode="disable")


@pytest.mark.parametrize("crsp_format", ["ciz", "siz"])
def test_wrds_returns_match_the_hand_computation(settings, crsp_format):
    calls = T.calls_frame().drop(columns="call_start_utc")
    permnos = sorted(calls["permno"])
    crsp, starts = fetch_returns(settings, permnos, sorted(calls["call_id"]), dt.date(2022, 10, 1),
                                 dt.date(2024, 3, 31), "2023Q4", crsp_format)
    assert starts[502].hour == 21 and starts[502].minute == 30  # the start time comes from Capital IQ
    out = compute_call_returns(calls.assign(call_start_utc=calls["call_id"].map(starts)), crsp).set_index("permno")
    assert len(out) == len(T.CALLS)
    for _, _, _, permno, _, day in T.CALLS:
        expected = T.hand_cars(permno, day)
        row = out.loc[permno]
        assert row["event_date"] == day
        assert row["est_obs"] == expected["est_obs"]
        for col in ("beta", "car_0_1", "car_m1_1", "car_2_60", "car_mm_0_1", "car_mm_2_60"):
            np.testing.assert_allclose(row[col], expected[col], rtol=1e-9, atol=1e-12, err_msg=f"{permno} {col}")
    assert out.loc[T.DELISTED_PERMNO, "delisting_return"] == T.DELISTING_RETURN
    assert out.loc[T.MISSING_PERMNO, "n_missing_2_60"] == 1


def test_a_login_without_crsp_daily_files_is_told_which_tables(settings):
    from dataclasses import replace

    from ftm_assets.transcripts.wrds import WrdsAccessError

    with pytest.raises(WrdsAccessError, match=r"crsp\.dsf_v2.*FTM_CRSP_FORMAT=ciz; the other format is FTM_CRSP_FORMAT=siz"):
        fetch_returns(replace(settings, dbname=ciq.RULES_DB), [10001], [501], dt.date(2023, 1, 1),
                      dt.date(2023, 12, 31), "2023Q4")
    with pytest.raises(WrdsAccessError, match=r"crsp\.dsf, crsp\.dsedelist, crsp\.dsi"):
        fetch_returns(replace(settings, dbname=ciq.RULES_DB), [10001], [501], dt.date(2023, 1, 1),
                      dt.date(2023, 12, 31), "2023Q4", "siz")
