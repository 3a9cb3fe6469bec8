"""Rows of figures, their ratios against the peer and the issue's targets, as terminal tables
and as markdown.

A row's ratio is always "how many times better coreship is": peer/coreship when lower is
better (time, memory, size), coreship/peer when higher is better (rates). Above 1 coreship is
ahead.
"""
import os
import statistics

REQUIRE_PEERS = os.environ.get("CORESHIP_REQUIRE_PEERS") == "1"


class PeerMissing(Exception):
    """A peer tool is not installed (fatal with CORESHIP_REQUIRE_PEERS=1)."""


class Target:
    """A goal: on the ratio (`min_ratio`) or on coreship's own figure."""

    def __init__(self, text, *, min_ratio=None, max_value=None, min_value=None):
        self.text = text
        self.min_ratio = min_ratio
        self.max_value = max_value
        self.min_value = min_value

    def met(self, row):
        if row.ours is None:
            return None
        if self.min_ratio is not None:
            r = row.ratio()
            return None if r is None else r >= self.min_ratio
        if self.max_value is not None:
            return row.ours <= self.max_value
        return row.ours >= self.min_value


UNITS = {
    # unit: (divisor from the stored base value, printed suffix, decimals)
    "MiB": (1024 * 1024, "MiB", 2),
    "KiB-as-MiB": (1024, "MiB", 1),
    "ms": (1e-3, "ms", 1),
    "s": (1, "s", 2),
    "ev/s": (1e6, "M ev/s", 2),
    "ns": (1e-9, "ns", 0),
    "req/s": (1, "req/s", 0),
    "MB/s": (1, "MB/s", 0),
    "B": (1, "B", 0),
    "count": (1, "", 0),
}


def fmt(value, unit):
    if value is None:
        return "—"
    div, suffix, dec = UNITS[unit]
    v = value / div
    text = f"{v:,.{dec}f}"
    return f"{text} {suffix}".strip()


class Row:
    def __init__(self, measure, unit, ours, peer_name="", peer=None, *, lower_is_better=True,
                 target=None, note="", peer_note=None):
        self.measure = measure
        self.unit = unit
        self.ours = ours
        self.peer_name = peer_name
        self.peer = peer
        self.lower_is_better = lower_is_better
        self.target = target
        self.note = note
        # Replaces the peer's figure, e.g. "peer missing".
        self.peer_note = peer_note

    def ratio(self):
        if self.ours is None or self.peer is None or self.ours == 0 or self.peer == 0:
            return None
        return self.peer / self.ours if self.lower_is_better else self.ours / self.peer

    def cells(self):
        r = self.ratio()
        met = self.target.met(self) if self.target else None
        verdict = "" if not self.target else {True: "met", False: "MISSED", None: "n/a"}[met]
        peer = self.peer_note if self.peer_note else fmt(self.peer, self.unit)
        if not self.peer_name and self.peer is None and not self.peer_note:
            peer = ""
        return [
            self.measure,
            fmt(self.ours, self.unit),
            self.peer_name,
            peer,
            "" if r is None else f"{r:.2f}×",
            self.target.text if self.target else "",
            verdict,
        ]


HEADER = ["measure", "coreship", "peer", "peer's figure", "ratio", "target", ""]


class Section:
    def __init__(self, title, intro=""):
        self.title = title
        self.intro = intro
        self.rows = []
        self.notes = []

    def add(self, row):
        self.rows.append(row)
        return row

    def note(self, text):
        self.notes.append(text)

    def text(self):
        cells = [HEADER] + [r.cells() for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
        out = [f"== {self.title}"]
        for c in cells:
            out.append("  ".join(
                c[i].ljust(widths[i]) if i in (0, 2, 5) else c[i].rjust(widths[i])
                for i in range(len(c))).rstrip())
        out += [f"   {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self):
        out = [f"### {self.title}", ""]
        if self.intro:
            out += [self.intro, ""]
        out.append("| " + " | ".join(HEADER[:-1] + ["met"]) + " |")
        out.append("| --- | ---: | --- | ---: | ---: | --- | --- |")
        for r in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |")
        out.append("")
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        return "\n".join(out)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def peer_missing(name, why):
    """The peer-missing cell text, or an error when peers are required."""
    if REQUIRE_PEERS:
        raise PeerMissing(f"{name} is missing ({why}) and CORESHIP_REQUIRE_PEERS=1")
    return "peer missing"
