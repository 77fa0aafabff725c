"""When the server counted a call. It counts a call when it arrives: after we hand it to
the SDK (seconds after its grant in a burst: our loop gets round to it, then the way
queues it), before our answer by the server's own time. A call counted from its grant
frees our window before the server's, and the window's turn comes back refused."""

from __future__ import annotations

import bisect
from collections import deque

from flashfirst.inference.grants import Entry


def _stamp(entry: Entry) -> float:
    return entry.sent


class ArrivalStamps:
    """Counts an answered call from its answer less the quickest round trip seen (a call
    that quick queued nowhere on the way), at most a sixth of the window after it was
    handed over (a long answer is slow to write, not late to arrive), never before its
    grant: our window then frees no sooner than the server's. A new quickest (the first
    calls of a run queue behind its start) re-stamps the whole window."""

    def __init__(self, window_s: float) -> None:
        self._window = window_s
        self._quickest = float("inf")  # the quickest hand-over to answer seen

    def answered(self, entries: deque[Entry], entry: Entry, now: float) -> deque[Entry]:
        """``entries`` (the window, in stamp order) with ``entry`` re-stamped in order; a
        new deque when the whole window was re-stamped."""
        if entry.handed is None:
            return entries  # granted, never handed over: its grant stands
        entry.answered = now
        if now - entry.handed < self._quickest:
            self._quickest = now - entry.handed
            for e in entries:
                e.sent = self._arrival(e)
            return deque(sorted(entries, key=_stamp))
        stamp = self._arrival(entry)
        if stamp <= entry.sent:
            return entries
        try:
            entries.remove(entry)
        except ValueError:
            return entries  # out of the window already
        entry.sent = stamp
        entries.insert(bisect.bisect_right(entries, stamp, key=_stamp), entry)
        return entries

    def _arrival(self, entry: Entry) -> float:
        if entry.handed is None or entry.answered is None:
            return entry.sent
        late = min(entry.answered - entry.handed - self._quickest, self._window / 6)
        return max(entry.sent, entry.handed + late)
