"""What a call costs: the dated price table, its rows per location, what prices a call when
its row is missing, and the estimate of a run before its first paid call."""
