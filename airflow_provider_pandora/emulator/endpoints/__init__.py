"""What each ``/v2`` endpoint does, one module per resource (as the paths name them), plus the unsigned
``/_emulator`` admin endpoints. Each is ``(engine, request) -> Response``; path names are already checked
by the route (:mod:`~airflow_provider_pandora.emulator.http.routes`) and a refused shared rule
(``PandoraValidationError``) is answered with its E-code by the server, so endpoints just call the rules."""
