"""The nbconvert preprocessor that makes a report's HTML render offline.

Imported only from :func:`festsafe_nb.report.html.export_html` (it pulls in nbconvert and
plotly, which the CLI must not pay for at start-up). It works on nbconvert's private copy of the
notebook, so the saved ``report.ipynb`` keeps the small plotly mimetype outputs that JupyterLab
renders natively.

What it rewrites, output by output:

- ``application/vnd.plotly.v1+json`` (what plotly's ``plotly_mimetype`` renderer saves, and
  what nbconvert's HTML silently drops) becomes a ``text/html`` div plus a ``Plotly.newPlot``
  script; plotly.js itself is inlined once, in front of the first figure.
- ``application/vnd.festsafe.*+json`` evidence is removed when the output carries a
  ``text/html`` (or another displayable) alternative, so nbconvert can only pick that one;
  without any alternative, the JSON is shown pretty-printed as text.
- widget views lose their ``application/vnd.jupyter.widget-view+json`` entry when another
  representation exists, and notebook-level widget state is dropped: the widget manager would
  load from a CDN and render nothing offline anyway.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Unicode

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
FESTSAFE_MIME = re.compile(r"^application/vnd\.festsafe\.[^/]*\+json$")
FIGURE_ID = "festsafe-fig-{n}"
DEFAULT_FIGURE_HEIGHT = "450px"
_DISPLAYABLE = ("text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg")


def plotlyjs_html() -> str:
    """plotly.js inline, with the config plotly's own HTML writer puts in front of it."""
    from plotly.offline import get_plotlyjs

    source = get_plotlyjs().replace("</script", "<\\/script")
    return (
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
        f'<script type="text/javascript">{source}</script>\n'
    )


def figure_html(figure: dict[str, Any], div_id: str) -> str:
    """A div and the script that draws ``figure`` into it (plotly.js must already be loaded)."""
    import plotly.io as pio

    figure = dict(figure)
    config = figure.pop("config", None) or {}
    # Figure data and layout are escaped by plotly's JSON writer; config is not, so keep only
    # values that cannot close the script tag.
    safe_config = {k: v for k, v in config.items() if "<" not in json.dumps(v)}
    # The plotly logo is a link to plotly.com: not a load, but a report points nowhere.
    safe_config.setdefault("displaylogo", False)
    html: str = pio.to_html(
        figure,
        config=safe_config,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        validate=False,
        default_height=DEFAULT_FIGURE_HEIGHT,
    )
    return html


class OfflineOutputs(Preprocessor):
    """Rewrite outputs that nbconvert would drop or that would need the network."""

    title = Unicode("", help="Document title; wins over metadata.title.").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        nb.metadata.pop("widgets", None)
        if self.title:
            nb.metadata["title"] = self.title
        figures = 0
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") not in ("display_data", "execute_result"):
                    continue
                data = output.get("data", {})
                if PLOTLY_MIME in data:
                    html = figure_html(data[PLOTLY_MIME], FIGURE_ID.format(n=figures))
                    if figures == 0:
                        html = plotlyjs_html() + html
                    figures += 1
                    # The figure's own text/html (plotly's "notebook" renderer) needs require.js.
                    data.pop(PLOTLY_MIME)
                    data["text/html"] = html
                self._drop_custom_json(data)
        resources.setdefault("festsafe", {})["figures"] = figures
        return nb, resources

    @staticmethod
    def _drop_custom_json(data: dict[str, Any]) -> None:
        custom = [m for m in data if FESTSAFE_MIME.match(m)]
        has_alternative = any(m in data for m in (*_DISPLAYABLE, "text/plain"))
        for mime in custom:
            payload = data.pop(mime)
            if not has_alternative:
                data["text/plain"] = json.dumps(payload, indent=2, ensure_ascii=False)
                has_alternative = True
        if WIDGET_VIEW_MIME in data and len(data) > 1:
            data.pop(WIDGET_VIEW_MIME)
