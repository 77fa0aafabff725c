"""The models collection of the Developer API — ``generateContent``, its stream,
``countTokens``, ``models.get/list`` — and the one ``serve()`` every generating surface
shares: thinking, function calls, schema-valid answers, quality rules, quotas, tiers,
faults and latency."""
