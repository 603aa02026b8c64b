"""A daily series as a chart's data: a plain table the page shows (it reads without JavaScript) and
static/js/charts.js draws with Chart.js (from npm, served from static/vendor/chart.js/)."""

import datetime as dt


def daily_chart(series: list[tuple[dt.date, int]], *, label) -> dict:
    """Points (day, raw value, value as people read it), the highest day, and the dates it spans."""
    highest = max((value for _, value in series), default=0)
    return {
        "points": [{"day": day, "value": value, "label": label(value)} for day, value in series],
        "peak": label(highest) if highest else None,
        "peak_value": highest,
        "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
    }
