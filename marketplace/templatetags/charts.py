"""{% daily_chart series as chart %}: a (day, count) series as the data of marketplace/_daily_chart.html."""

from django import template

from marketplace.views.charts import daily_chart as chart_of

register = template.Library()


@register.simple_tag
def daily_chart(series) -> dict:
    return chart_of(series, label=lambda value: f"{value:,}")
