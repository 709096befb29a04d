"""Pure helpers shared by every layer: no I/O, no framework."""
