"""Batch Mode (``batchGenerateContent``): jobs as data on the emulator's clock, their lines
answered by the shared generate path when they come due, and their listing, cancel and
delete."""
