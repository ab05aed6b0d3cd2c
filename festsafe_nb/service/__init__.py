"""The Alertmanager webhook service (``festsafe-nb serve``): alert in, runbook run, report out.

Flow::

    POST /alerts ─► app (auth, size, payload) ─► intake (alertname → runbook, parameters)
        ─► queue (SQLite WAL, dedup by alert group) ─► supervisor wakes the run worker
    run worker process (nice 5, no secrets): executor (bounded, one fresh pre-started
        kernel per run, runner.run) ─► queue (run closed + notifications, one transaction)
    web process: notify outbox ─► PagerDuty / Slack / email digest (downgraded inside
        maintenance windows)

This package stays import-light: ``festsafe_nb.config`` imports ``service.settings`` and the
heavy parts (aiohttp, papermill, jupyter_client) load only when the service starts.
"""
