"""Module-level DAGs that the test suite runs with dag.test() (they must live under DAGS_FOLDER)."""
