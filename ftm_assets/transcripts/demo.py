"""A deterministic synthetic corpus of earnings calls: the embedded default source, no WRDS needed.

Every row says it is synthetic three times: ``source`` is ``demo-synthetic``, the table's schema metadata
carries ``ftm.synthetic: true``, and the operator's opening line says it is a synthetic demo transcript.

What it looks like, so that the topic model has something real-shaped to find:

- One call per firm per quarter, dated on a weekday inside the quarter (the same day offset every quarter),
  reporting the previous fiscal quarter, as real calls do.
- Operator lines, safe-harbor remarks, CEO and CFO prepared remarks, then analyst questions and executive
  answers; components of 1-8 sentences, 250-450 sentences per call.
- Each firm talks about 4-7 of the business themes in ``demo_vocabulary.THEMES`` (a seeded draw, nudged
  towards what a real firm is known for), plus the CFO's results and outlook. Theme weights drift
  smoothly with the quarter index, so a firm's mix of topics changes slowly over time.
- The first ten firms are real Capital IQ company ids with their real names; the text and every other
  identifier (gvkey, permno, call and transcript ids) is invented. Invented gvkeys and permnos start with
  9 so they cannot collide with real ones; firms at index 13, 33, 53, ... have neither, like firms with
  no CRSP/Compustat link.

Determinism: every draw comes from ``random.Random`` seeded with a sha256 of its inputs, never Python's
``hash()``, so the corpus is identical across processes and machines. A firm's identity depends only on its
position; its themes on (seed, firm); its call on (seed, firm, quarter). A firm's call is therefore the same
whatever ``n_firms`` is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from ftm_assets.quarters import Quarter
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.transcripts import demo_vocabulary as V

SOURCE_LABEL = "demo-synthetic"
MAX_FIRMS = 50_000  # invented ids are built from the firm's position and stay unique below this

REAL_FIRMS: tuple[tuple[str, str, str], ...] = (
    # Capital IQ companyid, name, short name used by executives
    ("18749", "Amazon.com, Inc.", "Amazon"),
    ("19691", "Cisco Systems, Inc.", "Cisco"),
    ("21835", "Microsoft Corporation", "Microsoft"),
    ("24937", "Apple Inc.", "Apple"),
    ("29096", "Alphabet Inc.", "Alphabet"),
    ("32307", "NVIDIA Corporation", "NVIDIA"),
    ("20765463", "Meta Platforms, Inc.", "Meta"),
    ("25016048", "Broadcom Inc.", "Broadcom"),
    ("27444752", "Tesla, Inc.", "Tesla"),
    ("33348547", "Arista Networks Inc", "Arista"),
)

THEMES_BY_NAME: dict[str, V.Theme] = {theme.name: theme for theme in V.THEMES}
ORDINALS = ("first", "second", "third", "fourth")
COMPOUND_RATE = 0.4
DRIFT_AMPLITUDE = 0.6  # a theme's weight swings between exp(-0.6) and exp(0.6) of its base over a cycle
CONNECTORS = (", and ", ", and ", ", while ", "; in addition, ")
# Planted tone (issue 28): each (firm, quarter, theme) of the firm's mix has a tone in [-1, 1]; a share TONE_RATE
# of its statements gets a clause of Loughran-McDonald positive words (probability (1 + tone) / 2) or negative
# words (else), so that the theme's net LM tone has expectation ``tone``. The demo's returns (returns.demo)
# plant CAR[0,+1] = PLANTED_BETA * tone_exposure + noise. Drawn from their own seeded generators, so the rest of
# the text is the same draw as before.
TONE_RATE = 0.4
POSITIVE_CLAUSES = (", and we achieved a strong result", ", a favorable and improved outcome for us",
                    ", and we see that as a clear success")
NEGATIVE_CLAUSES = (", which was a weak and disappointing result", ", and conditions there remained difficult",
                    ", an adverse outcome that declined from last year")


def _lower_first(sentence: str) -> str:
    """Lower-case the first letter for use after a connector, unless it starts an acronym (``AI``)."""
    return sentence[0].lower() + sentence[1:] if sentence[1:2].islower() else sentence


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a sha256 of ``parts``: stable across processes, unlike ``hash()``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _amount(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"${rng.uniform(1.0, 30.0):.1f} billion"
    return f"${rng.randrange(100, 950, 5)} million"


def _amount_range(rng: random.Random) -> str:
    low = rng.uniform(1.5, 30.0)
    return f"${low:.1f} billion and ${low + max(0.2, low * 0.05):.1f} billion"


def _pct(rng: random.Random) -> str:
    return f"{rng.uniform(2, 35):.1f}%" if rng.random() < 0.5 else f"{rng.randint(3, 35)}%"


def _pct_range(rng: random.Random) -> str:
    low = rng.randint(3, 20)
    return f"{low}% to {low + rng.randint(1, 3)}%"


def _price_range(rng: random.Random) -> str:
    low = rng.uniform(1.0, 9.0)
    return f"${low:.2f} to ${low + rng.uniform(0.1, 0.4):.2f}"


NUMERIC_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "pct": _pct,
    "small_pct": lambda r: f"{r.uniform(0.5, 4.5):.1f}%",
    "mid_pct": lambda r: f"{r.randint(18, 45)}%",
    "high_pct": lambda r: f"{r.randint(85, 98)}%",
    "margin": lambda r: f"{r.uniform(35, 72):.1f}%",
    "tax_pct": lambda r: f"{r.randint(14, 24)}%",
    "bps": lambda r: str(r.randint(2, 25) * 10),
    "amount": _amount,
    "big_amount": lambda r: f"${r.randint(5, 60)} billion",
    "amount_range": _amount_range,
    "pct_range": _pct_range,
    "price_range": _price_range,
    "price": lambda r: f"${r.uniform(0.4, 6.5):.2f}",
    "price2": lambda r: f"${r.uniform(0.4, 6.5):.2f}",
    "shares": lambda r: f"{r.uniform(2, 60):.1f}",
    "share_price": lambda r: f"${r.uniform(40, 900):.2f}",
    "thousands": lambda r: str(r.randint(12, 950)),
    "headcount": lambda r: f"{r.randint(3, 220) * 1000 + r.randint(0, 999):,}",
    "n": lambda r: str(r.randint(2, 12)),
    "days": lambda r: str(r.randint(45, 140)),
    "cents": lambda r: str(r.randint(3, 25)),
}


@dataclass(frozen=True)
class DemoFirm:
    """A firm's identity: stable per position in the firm list, independent of seed and quarter."""

    index: int
    firm_id: str
    firm_name: str
    short_name: str
    gvkey: str | None
    permno: int | None
    affinity: tuple[str, ...]  # themes the firm is known for
    call_day_offset: int  # days after the quarter's start, before moving to a weekday


@dataclass(frozen=True)
class DemoComponent:
    """One transcript component, with the theme it was drawn from (None for boilerplate)."""

    component_type: str
    speaker_type: str
    speaker: str
    sentences: tuple[str, ...]
    theme: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def demo_firms(n_firms: int) -> list[DemoFirm]:
    """The first ``n_firms`` demo firms: the ten real Capital IQ ids first, then invented ones."""
    if not 1 <= n_firms <= MAX_FIRMS:
        raise ValueError(f"n_firms must be between 1 and {MAX_FIRMS}, got {n_firms}.")
    return [_demo_firm(index) for index in range(n_firms)]


def _demo_firm(index: int) -> DemoFirm:
    if index < len(REAL_FIRMS):
        firm_id, name, short = REAL_FIRMS[index]
        affinity = V.FIRM_AFFINITY[firm_id]
    else:
        k = index - len(REAL_FIRMS)
        prefix = V.NAME_PREFIXES[k % len(V.NAME_PREFIXES)]
        # (k mod 40, (16 a + b) mod 25) is one-to-one for k < 1000; beyond that a number keeps names unique
        industry, affinity = V.INDUSTRIES[(k // len(V.NAME_PREFIXES) + k) % len(V.INDUSTRIES)]
        series = f" {k // 1000 + 1}" if k >= 1000 else ""
        short = f"{prefix} {industry}{series}"
        name = f"{short} {V.NAME_SUFFIXES[k % len(V.NAME_SUFFIXES)]} (synthetic)"
        firm_id = str(900_000_000 + k)
    linked = index % 20 != 13
    return DemoFirm(
        index=index,
        firm_id=firm_id,
        firm_name=name,
        short_name=short,
        gvkey=f"{900_000 + index:06d}" if linked else None,
        permno=900_000 + index if linked else None,
        affinity=affinity,
        call_day_offset=_rng("call-day", firm_id).randint(14, 75),
    )


@dataclass(frozen=True)
class _Profile:
    """What a firm talks about and who talks: depends on (seed, firm), not on the quarter."""

    themes: tuple[str, ...]
    base_weights: tuple[float, ...]
    periods: tuple[float, ...]  # quarters per full drift cycle
    phases: tuple[float, ...]
    products: tuple[str, ...]
    segments: tuple[str, ...]
    ceo: str
    cfo: str
    ir: str


def _profile(firm: DemoFirm, seed: int) -> _Profile:
    rng = _rng("profile", seed, firm.firm_id)
    n_themes = rng.randint(4, 7)
    others = [name for name in THEMES_BY_NAME if name not in firm.affinity]
    themes = tuple(firm.affinity[:n_themes]) + tuple(rng.sample(others, n_themes - min(n_themes, len(firm.affinity))))
    names = rng.sample([f"{first} {last}" for first in V.FIRST_NAMES for last in V.LAST_NAMES], 3)
    return _Profile(
        themes=themes,
        base_weights=tuple(rng.uniform(0.7, 1.6) for _ in themes),
        periods=tuple(rng.uniform(10.0, 24.0) for _ in themes),
        phases=tuple(rng.uniform(0.0, 2 * math.pi) for _ in themes),
        products=tuple(rng.sample(V.PRODUCT_NAMES, 3)),
        segments=tuple(rng.sample(V.SEGMENTS, 3)),
        ceo=names[0],
        cfo=names[1],
        ir=names[2],
    )


def theme_tone(firm: DemoFirm, quarter: str, theme: str, seed: int = 0) -> float:
    """The planted tone of the firm's talk about ``theme`` in ``quarter``, uniform in [-1, 1]."""
    return _rng("tone", seed, firm.firm_id, quarter, theme).uniform(-1.0, 1.0)


def tone_exposure(firm: DemoFirm, quarter: str, seed: int = 0) -> float:
    """The planted regressor: sum over the firm's themes of (true share x planted tone)."""
    return sum(share * theme_tone(firm, quarter, name, seed) for name, share in theme_mix(firm, quarter, seed).items())


def theme_mix(firm: DemoFirm, quarter: str, seed: int = 0) -> dict[str, float]:
    """The firm's theme shares in ``quarter`` (summing to 1): smooth in the quarter index by design."""
    profile = _profile(firm, seed)
    index = Quarter.parse(quarter).index
    weights = [
        base * math.exp(DRIFT_AMPLITUDE * math.sin(2 * math.pi * index / period + phase))
        for base, period, phase in zip(profile.base_weights, profile.periods, profile.phases)
    ]
    total = sum(weights)
    return {name: weight / total for name, weight in zip(profile.themes, weights)}


class _Slots(dict):
    """Fills template slots lazily: one draw per slot per sentence, from the pools or the numeric drawers."""

    def __init__(self, rng: random.Random, pools: Mapping[str, Sequence[str]], fixed: Mapping[str, str]):
        super().__init__(fixed)
        self._rng = rng
        self._pools = pools

    def __missing__(self, key: str) -> str:
        if key in NUMERIC_SLOTS:
            value = NUMERIC_SLOTS[key](self._rng)
        elif key in self._pools:
            value = self._rng.choice(self._pools[key])
        else:
            raise KeyError(f"Demo template slot {{{key}}} has no values; add it to demo_vocabulary or NUMERIC_SLOTS.")
        self[key] = value
        return value


class _CallWriter:
    """Writes one call: keeps the sentence budget, the slot values and a shuffled deck per theme."""

    def __init__(self, firm: DemoFirm, quarter: Quarter, seed: int):
        self.rng = _rng("call", seed, firm.firm_id, quarter.key)
        self.firm = firm
        self.profile = _profile(firm, seed)
        self.mix = theme_mix(firm, quarter.key, seed)
        reported = Quarter(quarter.year - (quarter.q == 1), (quarter.q - 2) % 4 + 1)
        p = self.profile
        self.fixed = {
            "firm_name": firm.firm_name,
            "short_name": firm.short_name,
            "ceo": p.ceo,
            "cfo": p.cfo,
            "ir": p.ir,
            "ceo_first": p.ceo.split()[0],
            "cfo_first": p.cfo.split()[0],
            "ir_first": p.ir.split()[0],
            "fq": ORDINALS[reported.q - 1],
            "fyear": str(reported.year),
            "next_q": ORDINALS[quarter.q - 1],
        }
        self.pools: dict[str, Sequence[str]] = {**V.COMMON_SLOTS, "product": p.products, "segment": p.segments}
        self.decks: dict[str, list[str]] = {}
        self.components: list[DemoComponent] = []
        self.quarter = quarter.key
        self.seed = seed
        self.toned = 0  # statements given a tone clause so far: each draw has its own generator

    def tone(self, theme: V.Theme, sentence: str) -> str:
        """``sentence`` with, sometimes, a clause of LM tone words matching the theme's planted tone."""
        if theme.name not in self.mix or not sentence.endswith("."):
            return sentence
        self.toned += 1
        rng = _rng("tone-clause", self.seed, self.firm.firm_id, self.quarter, self.toned)
        if rng.random() >= TONE_RATE:
            return sentence
        positive = rng.random() < (1 + theme_tone(self.firm, self.quarter, theme.name, self.seed)) / 2
        return sentence[:-1] + rng.choice(POSITIVE_CLAUSES if positive else NEGATIVE_CLAUSES) + "."

    @property
    def n_sentences(self) -> int:
        return sum(len(c.sentences) for c in self.components)

    def fill(self, template: str, theme: V.Theme | None = None, **fixed: str) -> str:
        pools = {**self.pools, **theme.slots} if theme else self.pools
        return template.format_map(_Slots(self.rng, pools, {**self.fixed, **fixed}))

    def _draw(self, theme: V.Theme, kind: str, used: list[str]) -> str:
        """The next template from the theme's shuffled deck; ``used`` ones go to the bottom on a reshuffle."""
        source = theme.statements if kind == "statements" else theme.questions
        deck = self.decks.setdefault(f"{theme.name}/{kind}", [])
        if not deck:
            fresh = self.rng.sample(source, len(source))
            deck.extend([t for t in fresh if t in used] + [t for t in fresh if t not in used])
        used.append(deck.pop())
        return self.fill(used[-1], theme)

    def deal(self, theme: V.Theme, kind: str, k: int) -> list[str]:
        """``k`` sentences on ``theme``, none twice in one component.

        Statements are sometimes two clauses joined: a template repeated verbatim five times would be its
        own tight cluster, a topic per template, where real calls vary their wording.
        """
        used: list[str] = []
        sentences = []
        for _ in range(k):
            sentence = self._draw(theme, kind, used)
            room = len(theme.statements) - len(used) > k
            if kind == "statements" and room and self.rng.random() < COMPOUND_RATE:
                second = _lower_first(self._draw(theme, kind, used))
                sentence = sentence[:-1] + self.rng.choice(CONNECTORS) + second
            sentences.append(self.tone(theme, sentence) if kind == "statements" else sentence)
        return sentences

    def pick_theme(self, financial_bias: float = 1.0) -> V.Theme:
        names = list(self.mix)
        weights = [self.mix[n] * (financial_bias if THEMES_BY_NAME[n].financial else 1.0) for n in names]
        return THEMES_BY_NAME[self.rng.choices(names, weights)[0]]

    def add(self, component_type: str, speaker_type: str, speaker: str, sentences: Sequence[str], theme: str | None = None) -> None:
        self.components.append(DemoComponent(component_type, speaker_type, speaker, tuple(sentences), theme))

    def themed_speech(self, speaker: str, theme: V.Theme) -> None:
        intro = [self.fill(self.rng.choice(V.TRANSITIONS), label=theme.label)] if self.rng.random() < 0.5 else []
        body = self.deal(theme, "statements", self.rng.randint(4, 8 - len(intro)))
        self.add("Presenter Speech", "Executives", speaker, intro + body, theme.name)


def demo_call(firm: DemoFirm, quarter: str, seed: int = 0) -> list[DemoComponent]:
    """One firm's call in ``quarter``, in component order."""
    w = _CallWriter(firm, Quarter.parse(quarter), seed)
    rng, p = w.rng, w.profile
    target = rng.randint(252, 300)  # longer calls split into more topics than the worker defaults aim for

    w.add("Presentation Operator Message", "Operator", "Operator", [w.fill(s) for s in V.OPENING_OPERATOR])
    w.add("Presenter Speech", "Executives", p.ir, [w.fill(s) for s in V.SAFE_HARBOR])
    w.add("Presenter Speech", "Executives", p.ceo, [w.fill(s) for s in V.CEO_OPENING[: rng.randint(2, 4)]])
    while w.n_sentences < 0.24 * target:
        w.themed_speech(p.ceo, w.pick_theme())
    w.add("Presenter Speech", "Executives", p.ceo, [w.fill(V.CEO_HANDOFF)])

    w.add("Presenter Speech", "Executives", p.cfo, [w.fill(s) for s in V.CFO_OPENING])
    results = V.RESULTS
    for _ in range(2):
        w.add("Presenter Speech", "Executives", p.cfo, w.deal(results, "statements", rng.randint(4, 6)), results.name)
    while w.n_sentences < 0.42 * target:
        w.themed_speech(p.cfo, w.pick_theme(financial_bias=3.0))
    guidance = THEMES_BY_NAME["guidance"]
    outlook = w.deal(guidance, "statements", rng.randint(3, 6)) + [w.fill(V.CFO_HANDOFF)]
    w.add("Presenter Speech", "Executives", p.cfo, outlook, guidance.name)

    w.add("Question and Answer Operator Message", "Operator", "Operator", [w.fill(s) for s in V.QA_START])
    while w.n_sentences < target - 8:
        _analyst_exchange(w)
    w.add("Question and Answer Operator Message", "Operator", "Operator", [w.fill(s) for s in V.CLOSING_OPERATOR])
    w.add("Presenter Speech", "Executives", p.ceo, [w.fill(s) for s in V.CLOSING_REMARKS])
    w.add("Question and Answer Operator Message", "Operator", "Operator", [w.fill(s) for s in V.FINAL_OPERATOR])
    return w.components


def _analyst_exchange(w: _CallWriter) -> None:
    """Operator introduction, a question, an answer, and sometimes a follow-up on another theme."""
    rng, p = w.rng, w.profile
    analyst = f"{rng.choice(V.FIRST_NAMES)} {rng.choice(V.LAST_NAMES)}"
    intro = [w.fill(rng.choice(V.ANALYST_INTRO), analyst=analyst, bank=rng.choice(V.ANALYST_FIRMS))]
    w.add("Question and Answer Operator Message", "Operator", "Operator", intro + [rng.choice(V.ANALYST_INTRO_TAIL)])
    openers = (V.QUESTION_OPENERS, V.FOLLOW_UP_OPENERS)
    for round_ in range(1 + (rng.random() < 0.4)):
        theme = w.pick_theme()
        opener = [rng.choice(openers[round_])] if round_ or rng.random() < 0.6 else []
        question = opener + w.deal(theme, "questions", rng.randint(1, 2))
        w.add("Question", "Analysts", analyst, question, theme.name)
        answerer = p.cfo if theme.financial else p.ceo
        answer = [rng.choice(V.ANSWER_OPENERS)] if rng.random() < 0.5 else []
        answer += w.deal(theme, "statements", rng.randint(3, 6))
        if rng.random() < 0.2:
            answer.append(rng.choice(V.ANSWER_CLOSERS))
        w.add("Answer", "Executives", answerer, answer, theme.name)


def call_date(firm: DemoFirm, quarter: str) -> dt.date:
    """The firm's call date: the same offset into every quarter, moved forward to a Monday-Thursday."""
    day = Quarter.parse(quarter).start + dt.timedelta(days=firm.call_day_offset)
    while day.weekday() > 3:
        day += dt.timedelta(days=1)
    return day


def demo_transcripts(quarter: str, n_firms: int = 40, seed: int = 0) -> pa.Table:
    """The quarter's synthetic transcripts in ``RAW_TRANSCRIPTS_SCHEMA``, sorted by firm, call, component.

    Raises ``QuarterKeyError`` for a malformed quarter key and ``ValueError`` for ``n_firms`` out of range.
    """
    q = Quarter.parse(quarter)
    columns: dict[str, list] = {name: [] for name in RAW_TRANSCRIPTS_SCHEMA.names}
    for firm in demo_firms(n_firms):
        call_id = q.index * 100_000 + firm.index
        day = call_date(firm, q.key)
        for order, component in enumerate(demo_call(firm, q.key, seed)):
            row = {
                "quarter": q.key,
                "firm_id": firm.firm_id,
                "firm_name": firm.firm_name,
                "call_id": call_id,
                "transcript_id": call_id * 10 + 1,
                "earnings_call_date": day,
                "gvkey": firm.gvkey,
                "permno": firm.permno,
                "component_order": order,
                "component_type": component.component_type,
                "speaker_type": component.speaker_type,
                "text": component.text,
                "source": SOURCE_LABEL,
            }
            for name, value in row.items():
                columns[name].append(value)
    table = conform(pa.table(columns), RAW_TRANSCRIPTS_SCHEMA)
    table = table.sort_by([("firm_id", "ascending"), ("call_id", "ascending"), ("component_order", "ascending")])
    return table.replace_schema_metadata(
        {b"ftm.synthetic": b"true", b"ftm.source": SOURCE_LABEL.encode(), b"ftm.demo_seed": str(seed).encode()}
    )
