"""Plotly figures for evidence: a time series with the runbook's threshold and the alert window.

Figures are displayed with plotly's ``plotly_mimetype`` renderer, which keeps the notebook small
and renders in JupyterLab; the report exporter turns them into offline HTML (plotly.js embedded
once), because nbconvert would otherwise drop them from the HTML without a word.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

_TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": "#eaeef2", "linecolor": "#8c959f"},
        "yaxis": {"gridcolor": "#eaeef2", "linecolor": "#8c959f", "rangemode": "tozero"},
        "colorway": [
            "#0969da",
            "#8250df",
            "#1a7f37",
            "#bf8700",
            "#cf222e",
            "#57606a",
            "#e16f24",
        ],
    }
}


def timeseries(
    frame: pd.DataFrame,
    *,
    title: str,
    unit: str,
    threshold: float | None = None,
    bad_when: str = "above",
    window: tuple[datetime, datetime] | None = None,
    series_labels: list[str] | None = None,
) -> go.Figure:
    """One line per label combination, the threshold as a red dashed line, the window shaded."""
    import plotly.graph_objects as go

    labels = (
        series_labels
        if series_labels is not None
        else [c for c in frame.columns if c not in ("time", "value")]
    )
    fig = go.Figure()
    if frame.empty:
        fig.add_annotation(
            text="no data", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    elif labels:
        for key, part in frame.groupby(labels, sort=True, observed=True):
            keys = key if isinstance(key, tuple) else (key,)
            name = " ".join(str(k) for k in keys if str(k)) or "value"
            fig.add_trace(go.Scatter(x=part["time"], y=part["value"], mode="lines", name=name))
    else:
        fig.add_trace(go.Scatter(x=frame["time"], y=frame["value"], mode="lines", name=title))
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": "#cf222e", "dash": "dash", "width": 1.5},
            annotation_text=f"threshold {threshold:g} {unit} ({bad_when} is a breach)",
            annotation_position="top left",
        )
    if window is not None:
        fig.add_vrect(
            x0=window[0],
            x1=window[1],
            fillcolor="#ffd33d",
            opacity=0.18,
            line_width=0,
            annotation_text="alert window",
            annotation_position="top right",
        )
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title},
        yaxis_title=unit,
        height=340,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def show(fig: go.Figure) -> None:
    """Display a figure as a plotly MIME output (plus a text fallback for plain readers)."""
    import json

    import plotly.io as pio

    from festsafe_nb.evidence import display_bundle

    title = fig.layout.title.text or "figure"
    display_bundle(
        {
            # plotly's own JSON encoder: numpy arrays and timestamps become plain JSON
            "application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
            "text/plain": f"<Figure: {title}>",
        }
    )
