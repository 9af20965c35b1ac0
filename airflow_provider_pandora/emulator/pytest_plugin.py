"""pytest plugin exposing the emulator fixtures (placeholder until the emulator lands)."""
