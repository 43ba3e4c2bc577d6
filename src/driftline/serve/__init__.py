"""Serving: the champion behind an HTTP endpoint that validates, explains and logs every decision.

- `bundle.py`     — `ModelBundle` (an immutable, loaded champion) and `BundleHolder`, which
                    watches `registry/<p>/champion.json` and swaps bundles atomically.
- `validation.py` — request records checked against the pipeline's schema, with the semantics of
                    `driftline.schema.validate.validate_frame`.
- `scoring.py`    — fitted transforms (`apply_features`), LightGBM scores, decisions, reason codes.
- `metrics.py`    — request counters, latency histograms and model gauges (prometheus_client;
                    its multiprocess mode with `--workers N`).
- `openapi.py`    — the OpenAPI document's typed request record, generated from the schema rules.
- `app.py`        — the FastAPI application (`create_app`) and its limits, auth and error handling.

The prediction log it writes lives in `driftline.predictions` (the monitor and `audit trace` read it too).
FastAPI, uvicorn and LightGBM are imported only here, never by the CLI at start-up.
"""
