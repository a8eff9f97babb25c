"""How much of a check was judged: the figures behind "never OK when little was checked".

A run is *judged* when its values were compared with the reference: it passed, failed or
was incomplete.  An unsupported run (the backend declined the configuration) and an
error (it never returned a usable Result) judged nothing.  A held-out case is judged when
at least one run on it was.  A check whose held-out cases were all skipped, or that
judged less than half of its runs, proves little whatever its pass count: it is not OK
unless the user says that is what they want (``--allow-unsupported``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .verdict import ERROR, UNSUPPORTED

MIN_JUDGED_FRACTION = 0.5


@dataclass(frozen=True)
class Coverage:
    runs: int
    runs_judged: int
    heldout_cases: int
    heldout_cases_judged: int

    @property
    def runs_fraction(self) -> float:
        return self.runs_judged / self.runs if self.runs else 0.0

    @property
    def heldout_fraction(self) -> float | None:
        return self.heldout_cases_judged / self.heldout_cases if self.heldout_cases else None

    def shortfall(self) -> str | None:
        """Why this coverage is too little for an OK, or None."""
        if self.heldout_cases and not self.heldout_cases_judged:
            return (f"no held-out case was judged (all {self.heldout_cases} unsupported or "
                    f"errors): a backend that only handles the fixtures' shapes is not "
                    f"checked")
        if self.runs and self.runs_fraction < MIN_JUDGED_FRACTION:
            return (f"only {self.runs_judged} of {self.runs} runs "
                    f"({100 * self.runs_fraction:.0f}%) were judged, less than half")
        return None

    def line(self) -> str:
        text = (f"judged: {self.runs_judged} of {self.runs} runs "
                f"({100 * self.runs_fraction:.0f}%)")
        if self.heldout_cases:
            text += (f", {self.heldout_cases_judged} of {self.heldout_cases} held-out cases "
                     f"({100 * self.heldout_fraction:.0f}%)")
        return text

    def as_dict(self) -> dict:
        return {"runs": self.runs, "runs_judged": self.runs_judged,
                "runs_judged_fraction": round(self.runs_fraction, 6),
                "heldout_cases": self.heldout_cases,
                "heldout_cases_judged": self.heldout_cases_judged,
                "heldout_cases_judged_fraction": None if self.heldout_fraction is None
                else round(self.heldout_fraction, 6)}


def judged(result) -> bool:
    return result.status not in (UNSUPPORTED, ERROR)


def coverage(results) -> Coverage:
    heldout = {r.case for r in results if r.heldout}
    heldout_judged = {r.case for r in results if r.heldout and judged(r)}
    return Coverage(len(results), sum(judged(r) for r in results), len(heldout),
                    len(heldout_judged))
