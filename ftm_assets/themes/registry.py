"""The theme registry: every theme id ever given, its anchor centroid, and what happened to it each quarter.

A theme's anchor is its centroid in the quarter it was born, fixed from then on, so that a theme means the
same thing in 2010 and 2020 and a quarter re-clustered with the same inputs gets the same ids. Events per
quarter: ``birth`` (a new id), ``split`` (a birth close to a living theme, which is its parent), ``revival``
(an id that was absent the quarter before), ``death`` (an id of the quarter before that has no topics now).
The registry is a pure function of the quarters it replayed, in calendar order (see ``chain``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Registry:
    anchors: dict[str, np.ndarray] = field(default_factory=dict)  # theme id -> unit centroid
    first_quarter: dict[str, str] = field(default_factory=dict)
    last_quarter: dict[str, str] = field(default_factory=dict)
    living: list[str] = field(default_factory=list)  # ids of the last replayed quarter
    quarters: list[str] = field(default_factory=list)  # replayed, in order
    fingerprints: dict[str, str] = field(default_factory=dict)  # quarter -> chain fingerprint
    events: list[dict] = field(default_factory=list)

    def known(self) -> tuple[list[str], np.ndarray]:
        """Ids in a fixed order (sorted) and their anchors as one matrix."""
        ids = sorted(self.anchors)
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        return ids, np.stack([self.anchors[i] for i in ids]).astype(np.float32)

    @property
    def fingerprint(self) -> str:
        return self.fingerprints[self.quarters[-1]] if self.quarters else "empty"

    def advance(self, quarter: str, fingerprint: str, present: list[str], new_anchors: dict[str, np.ndarray],
                events: list[dict]) -> None:
        """Record one quarter's outcome (its themes, the anchors of those born in it, its events)."""
        for theme_id, anchor in new_anchors.items():
            self.anchors[theme_id] = np.asarray(anchor, dtype=np.float32)
            self.first_quarter[theme_id] = quarter
        for theme_id in present:
            self.last_quarter[theme_id] = quarter
        self.living = sorted(present)
        self.quarters.append(quarter)
        self.fingerprints[quarter] = fingerprint
        self.events.extend(events)

    def to_json(self) -> str:
        themes = {
            tid: {"first_quarter": self.first_quarter[tid], "last_quarter": self.last_quarter.get(tid),
                  "living": tid in self.living}
            for tid in sorted(self.anchors)
        }
        return json.dumps({"quarters": self.quarters, "fingerprints": self.fingerprints, "themes": themes,
                           "events": self.events}, indent=1, sort_keys=True)


def lineage_events(quarter: str, previous_living: list[str], present: list[str], born: list[str],
                   split_parent: dict[str, str | None]) -> list[dict]:
    """What happened to ids between the last replayed quarter and ``quarter``."""
    prev, now = set(previous_living), set(present)
    events = [{"quarter": quarter, "event": "birth", "theme_id": t, "parent": None} for t in born]
    events += [{"quarter": quarter, "event": "split", "theme_id": t, "parent": p}
               for t, p in split_parent.items() if p]
    events += [{"quarter": quarter, "event": "revival", "theme_id": t, "parent": None}
               for t in sorted(now - prev - set(born))]
    events += [{"quarter": quarter, "event": "death", "theme_id": t, "parent": None} for t in sorted(prev - now)]
    return events
