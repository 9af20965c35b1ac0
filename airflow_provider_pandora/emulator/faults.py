"""Kept as an import path: ``benchmarks/bench_soak.py`` imports :data:`ACTIONS` from here (the code lives in
:mod:`airflow_provider_pandora.emulator.core.faults`)."""

from airflow_provider_pandora.emulator.core.faults import ACTIONS, Fault, FaultList

__all__ = ["ACTIONS", "Fault", "FaultList"]
