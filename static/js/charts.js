// Draws each figure.chart from the table inside it with Chart.js (static/vendor/chart.js, from npm): bars per day
// (or per data-x, e.g. model), the days on the x axis, the amounts (micro-credits / data-scale) on the y axis. The table stays on the page as
// the chart's text, folded once the chart is drawn.
(function () {
  if (typeof Chart === "undefined") return;
  for (const figure of document.querySelectorAll("figure.chart")) {
    const rows = Array.from(figure.querySelectorAll("tbody tr"));
    const scale = Number(figure.dataset.scale || 1);
    const labels = rows.map((row) => row.cells[0].textContent.trim());
    const values = rows.map((row) => Number(row.cells[1].dataset.value) / scale);
    const canvas = figure.querySelector("canvas");
    new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ label: figure.dataset.unit, data: values, backgroundColor: "#3b6fd4" }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: figure.dataset.x || "Day (UTC)" }, ticks: { autoSkip: true, maxRotation: 0 } },
          y: {
            beginAtZero: true, title: { display: true, text: figure.dataset.unit },
            // plain decimals (0.00005, not 5.00000E-5); counts (scale 1) only on whole numbers
            ticks: { precision: scale === 1 ? 0 : undefined, callback: (value) => Number(value).toLocaleString("en", { maximumFractionDigits: 6 }) },
          },
        },
      },
    });
    figure.classList.add("drawn");
    figure.querySelector("details.chart-data").open = false;
  }
})();
