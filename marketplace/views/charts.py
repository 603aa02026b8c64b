"""A bar chart as plain SVG numbers, so pages need no chart library."""

import datetime as dt

WIDTH, HEIGHT = 720, 160


def bar_chart(series: list[tuple[dt.date, int]], *, label) -> dict:
    """Bars for a daily series: x, y, width, height and a tooltip each, scaled to the largest value."""
    highest = max((value for _, value in series), default=0)
    peak = highest or 1
    step = WIDTH / max(1, len(series))
    bars = []
    for index, (day, value) in enumerate(series):
        height = round(HEIGHT * value / peak, 1)
        bars.append({"x": round(index * step + 1, 1), "y": round(HEIGHT - height, 1), "width": max(1.0, round(step - 2, 1)),
                     "height": height, "title": f"{day:%Y-%m-%d}: {label(value)}"})  # fmt: skip
    return {"bars": bars, "width": WIDTH, "height": HEIGHT, "peak": label(highest) if highest else None,
            "first": series[0][0] if series else None, "last": series[-1][0] if series else None}  # fmt: skip
