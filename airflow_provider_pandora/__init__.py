"""Apache Airflow provider for the Qiniu Pandora big-data pipeline (v2 API)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
