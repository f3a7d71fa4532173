"""CRSP-shaped test data: daily stock (dsf), delisting (dsedelist) and index (dsi) rows, the same in CIZ's
shape (dsf_v2, wrds_dailyindexret_query), and six calls that
exercise the event-day rule, a delisting and a missing return, loadable into the WRDS test database.

The calendar is written out here (weekdays of 2022-10-03..2024-03-28 without the NYSE holidays listed),
independently of ``ftm_assets.returns.calendar``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

HOLIDAYS = {dt.date(*d) for d in [
    (2022, 11, 24), (2022, 12, 26), (2023, 1, 2), (2023, 1, 16), (2023, 2, 20), (2023, 4, 7), (2023, 5, 29),
    (2023, 6, 19), (2023, 7, 4), (2023, 9, 4), (2023, 11, 23), (2023, 12, 25), (2024, 1, 1), (2024, 1, 15),
    (2024, 2, 19)]}
DAYS = [d.date() for d in pd.bdate_range("2022-10-03", "2024-03-28") if d.date() not in HOLIDAYS]

DELISTED_PERMNO, DELISTING_DATE, DELISTING_RETURN = 10005, dt.date(2023, 11, 9), -0.30
MISSING_PERMNO, MISSING_DAY = 10006, dt.date(2023, 11, 15)

# (firm_id, call_id, gvkey, permno, call start UTC, the event day a person reads off the rule)
CALLS = [
    ("1", 501, "001001", 10001, dt.datetime(2023, 11, 1, 14, 0), dt.date(2023, 11, 1)),   # 10:00 EDT
    ("2", 502, "001002", 10002, dt.datetime(2023, 11, 2, 21, 30), dt.date(2023, 11, 3)),  # 17:30 EDT: after close
    ("3", 503, "001003", 10003, dt.datetime(2023, 11, 22, 21, 5), dt.date(2023, 11, 24)),  # 16:05 EST, Thanksgiving eve
    ("4", 504, "001004", 10004, dt.datetime(2023, 11, 6, 20, 30), dt.date(2023, 11, 6)),  # 15:30 EST (16:30 in EDT)
    ("5", 505, "001005", DELISTED_PERMNO, dt.datetime(2023, 11, 8, 13, 0), dt.date(2023, 11, 8)),
    ("6", 506, "001006", MISSING_PERMNO, dt.datetime(2023, 11, 10, 15, 0), dt.date(2023, 11, 10)),
]


def index_returns() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"date": DAYS, "vwretd": rng.normal(0.0004, 0.01, len(DAYS))})


def stock_returns() -> pd.DataFrame:
    """Each permno: beta * index + noise; the delisted one stops the day before its delisting date, the
    missing one has a null return on MISSING_DAY."""
    market = index_returns()["vwretd"].to_numpy()
    frames = []
    for k, (_, _, _, permno, _, _) in enumerate(CALLS):
        rng = np.random.default_rng(100 + k)
        ret = (0.5 + 0.2 * k) * market + rng.normal(0.0, 0.015, len(DAYS))
        frame = pd.DataFrame({"permno": permno, "date": DAYS, "ret": ret})
        if permno == DELISTED_PERMNO:
            frame = frame[frame["date"] < DELISTING_DATE]
        if permno == MISSING_PERMNO:
            frame.loc[frame["date"] == MISSING_DAY, "ret"] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def delisting() -> pd.DataFrame:
    return pd.DataFrame({"permno": [DELISTED_PERMNO], "dlstdt": [DELISTING_DATE], "dlret": [DELISTING_RETURN]})


def calls_frame() -> pd.DataFrame:
    """The calls as ``raw_transcripts`` has them (the date is the UTC date; the start time comes from WRDS)."""
    return pd.DataFrame([{"quarter": "2023Q4", "firm_id": f, "call_id": c, "gvkey": g, "permno": p,
                          "earnings_call_date": s.date(), "call_start_utc": pd.Timestamp(s)}
                         for f, c, g, p, s, _ in CALLS])


CRSP_DDL = """
CREATE TABLE crsp.dsf (permno double precision, date date, ret double precision, prc double precision);
CREATE TABLE crsp.dsi (date date, vwretd double precision, ewretd double precision);
CREATE TABLE crsp.dsedelist (permno double precision, dlstdt date, dlstcd double precision, dlret double precision);
CREATE TABLE crsp.dsf_v2 (permno integer, dlycaldt date, dlyret numeric, dlyretmissflg varchar(2),
                          dlydelflg varchar(1), dlyprc numeric);
CREATE TABLE crsp.wrds_dailyindexret_query (dlycaldt date, vwretd numeric, ewretd numeric);
"""


def ciz_rows() -> list[tuple]:
    """The same returns in CRSP's CIZ shape: a null dlyret flagged 'MP' where a return is missing, and the
    delisting return as the delisting day's dlyret, flagged dlydelflg = 'Y' (CIZ folds it into the return)."""
    rows = [(int(p), d, None if np.isnan(r) else float(r), "MP" if np.isnan(r) else None, "N")
            for p, d, r in stock_returns().itertuples(index=False)]
    rows += [(int(p), d, float(r), None, "Y") for p, d, r in delisting().itertuples(index=False)]
    return rows


def load_crsp(conn) -> None:
    """Create the CRSP tables in the connected database (schema crsp exists) and load the rows above."""
    with conn.cursor() as cur:
        cur.execute(CRSP_DDL)
        cur.executemany("INSERT INTO crsp.dsf (permno, date, ret) VALUES (%s, %s, %s)",
                        [(int(p), d, None if np.isnan(r) else float(r)) for p, d, r in stock_returns().itertuples(index=False)])
        cur.executemany("INSERT INTO crsp.dsi (date, vwretd) VALUES (%s, %s)",
                        [(d, float(v)) for d, v in index_returns().itertuples(index=False)])
        cur.executemany("INSERT INTO crsp.dsedelist (permno, dlstdt, dlstcd, dlret) VALUES (%s, %s, 550, %s)",
                        [(p, d, r) for p, d, r in delisting().itertuples(index=False)])
        cur.executemany("INSERT INTO crsp.dsf_v2 (permno, dlycaldt, dlyret, dlyretmissflg, dlydelflg) "
                        "VALUES (%s, %s, %s, %s, %s)", ciz_rows())
        cur.executemany("INSERT INTO crsp.wrds_dailyindexret_query (dlycaldt, vwretd) VALUES (%s, %s)",
                        [(d, float(v)) for d, v in index_returns().itertuples(index=False)])


def hand_cars(permno: int, event_day: dt.date) -> dict[str, float]:
    """The CARs and market model of one call, worked out directly from the rows above (the test's reference)."""
    market = dict(zip(DAYS, index_returns()["vwretd"]))
    stock = {d: r for p, d, r in stock_returns().itertuples(index=False) if p == permno and not np.isnan(r)}
    delisted = permno == DELISTED_PERMNO
    if delisted:
        stock[DELISTING_DATE] = DELISTING_RETURN  # no dsf row that day: the delisting return is the day's return
    i0 = DAYS.index(event_day)
    est = [DAYS[i] for i in range(i0 - 250, i0 - 10) if DAYS[i] in stock]
    x = np.array([market[d] for d in est])
    y = np.array([stock[d] for d in est])
    alpha, beta = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
    out = {"est_obs": len(est), "alpha": alpha, "beta": beta}
    for name, (a, b) in {"0_1": (0, 1), "m1_1": (-1, 1), "2_60": (2, 60)}.items():
        ma, mm = 0.0, 0.0
        for d in DAYS[i0 + a: i0 + b + 1]:
            if delisted and d > DELISTING_DATE:
                continue  # proceeds in the index after delisting: abnormal return 0
            if d not in stock:
                ma = mm = float("nan")
                break
            ma += stock[d] - market[d]
            mm += stock[d] - alpha - beta * market[d]
        out[f"car_{name}"], out[f"car_mm_{name}"] = ma, mm
    return out
