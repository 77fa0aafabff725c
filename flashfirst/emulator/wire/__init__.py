"""The one wire layer every surface shares: request JSON read as Google's front end reads
it, Google's error format and wording, and a generate request's required fields. Nothing
here knows a surface, the state or the config."""
