"""``report.html``: the executed (and scrubbed) notebook as one self-contained, offline page.

Called by the runner after :func:`festsafe_nb.report.scrub.scrub`. A report is evidence read
during or after an incident, possibly on a laptop without network, so the page must not load
anything: nbconvert's lab template with MathJax, require.js and mermaid URLs emptied, plotly.js
inlined once, figures drawn from the saved plotly JSON (see ``_offline.py``). nbconvert and
plotly are imported inside the function: importing this module costs nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

# The lab template still writes <script src="{{ url }}"> for the URLs we empty; drop the husks.
_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>\n?')


def export_html(nb: NotebookNode, path: Path, *, title: str, exclude_input: bool = False) -> Path:
    """Write ``nb`` as self-contained HTML to ``path`` (atomically) and return ``path``.

    ``exclude_input`` hides code cells' inputs; off by default because the code that produced
    a piece of evidence is part of the evidence. ``nb`` itself is not modified.
    """
    from nbconvert import HTMLExporter

    from festsafe_nb.report._offline import OfflineOutputs

    # nbconvert's traitlets-based constructors are untyped
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        mathjax_url="",
        require_js_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        exclude_input=exclude_input,
    )
    offline = OfflineOutputs(title=title)  # type: ignore[no-untyped-call]
    exporter.register_preprocessor(offline, enabled=True)  # type: ignore[no-untyped-call]
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _EMPTY_SCRIPT.sub("", body)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, path)
    return path
