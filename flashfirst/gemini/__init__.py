"""What each Gemini model is and takes: the catalogue, the tiers escalation climbs, the token
rules, the thinking a request may ask for, the successors Google has named, and the check
of a run's models before its first call."""
