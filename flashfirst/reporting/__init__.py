"""What a run cost and why: the ledger (naive against actual, per lever), the typed report,
its assembly and renderings, the files a run writes, the stages and their wall time, and
what fitting media did."""
