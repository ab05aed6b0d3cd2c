"""Report export: the last step of a run, turning an executed notebook into archived evidence.

The runner (``festsafe_nb/runner.py``) executes a runbook with papermill, then, in this order::

    scrub(nb, secrets)                      # scrub.py: known values + credential patterns
    write report.ipynb, summary.json        # runner
    export_html(nb, run_dir / "report.html", title=...)   # html.py: offline, plotly.js once
    write_manifest(run_dir)                 # manifest.py: MANIFEST.sha256, last

``festsafe-nb verify <dir>`` calls :func:`verify_manifest`. Importing this package is cheap:
nbconvert and plotly are imported only when HTML is exported.
"""

from festsafe_nb.report.html import export_html
from festsafe_nb.report.manifest import MANIFEST_NAME, verify_manifest, write_manifest
from festsafe_nb.report.scrub import REDACTED, scrub, scrub_text

__all__ = [
    "MANIFEST_NAME",
    "REDACTED",
    "export_html",
    "scrub",
    "scrub_text",
    "verify_manifest",
    "write_manifest",
]
