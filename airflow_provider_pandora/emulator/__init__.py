"""A faithful local Pandora server for demos and tests (filled in by the emulator work)."""
