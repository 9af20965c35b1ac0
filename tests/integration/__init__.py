"""Integration tests: real HTTP to the emulator and real Airflow."""
