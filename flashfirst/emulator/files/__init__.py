"""The Files API: resumable and one-shot uploads, files read with the emulator's own probe,
their listing, download and deletion."""
