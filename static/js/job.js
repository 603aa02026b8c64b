// The job page follows its job live: every 2 s it reads the job and its newest events from /v1 with the signed-in
// session, updates status, step, speed and time left, and redraws the loss chart (Chart.js; training solid,
// validation dashed, when the job has a validation file) and its table from the `metrics` events. When the job ends
// it reloads once, so the page shows its final state as the server renders it: no Pause or Cancel, its checkpoints
// and every event.
(function () {
  const section = document.getElementById("job");
  if (!section) return;
  const $ = (id) => document.getElementById(id);
  const ENDED = ["succeeded", "failed", "cancelled"];
  let chart = null;

  // Chart.js (static/vendor/chart.js, from npm): loss by step, training solid, validation dashed; the table under
  // it holds the same numbers for readers without the chart.
  function draw(metrics, totalSteps) {
    const train = metrics.map((m) => ({ x: m.step, y: m.train_loss }));
    const valid = metrics.filter((m) => m.valid_loss !== null && m.valid_loss !== undefined)
      .map((m) => ({ x: m.step, y: m.valid_loss }));
    if (!train.length) return;
    if (chart === null && typeof Chart !== "undefined") {
      chart = new Chart($("loss-chart"), {
        type: "line",
        data: { datasets: [
          { label: "training", data: [], borderColor: "#3b6fd4", backgroundColor: "#3b6fd4", pointRadius: 2 },
          ...(section.dataset.validation ? [{ label: "validation", data: [], borderColor: "#c05621",
            backgroundColor: "#c05621", borderDash: [5, 3], pointRadius: 2 }] : []),
        ] },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          scales: { x: { type: "linear", min: 0, max: totalSteps, title: { display: true, text: "step" } },
                    y: { title: { display: true, text: "loss" } } },
        },
      });
      $("loss-figure").classList.add("drawn");
    }
    if (chart !== null) {
      chart.data.datasets[0].data = train;
      if (chart.data.datasets.length > 1) chart.data.datasets[1].data = valid;
      chart.options.scales.x.max = totalSteps;
      chart.update();
    }
    $("chart-points").textContent = String(train.length);
    $("loss-table").replaceChildren(...metrics.map((m) => {
      const row = document.createElement("tr");
      for (const value of [m.step, m.train_loss.toFixed(4), m.valid_loss == null ? "—" : m.valid_loss.toFixed(4)]) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        row.append(cell);
      }
      return row;
    }));
  }

  async function poll() {
    try {
      const [job, events] = await Promise.all([
        fetch(section.dataset.url, { credentials: "same-origin" }).then((r) => r.json()),
        fetch(section.dataset.events + "?limit=100", { credentials: "same-origin" }).then((r) => r.json()),
      ]);
      const metrics = (events.data || []).filter((e) => e.type === "metrics").map((e) => e.data).reverse();
      const last = metrics[metrics.length - 1];
      $("job-status").textContent = job.status;
      $("job-status").className = `status status-${job.status}`;
      if (last) {
        $("job-step").textContent = `${last.step} / ${last.total_steps} (epoch ${last.epoch})`;
        $("job-speed").textContent = `${Math.round(last.tokens_per_second)}`;
        const perStep = last.tokens / Math.max(last.step, 1) / Math.max(last.tokens_per_second, 1e-9);
        const left = Math.max(0, (last.total_steps - last.step) * perStep);
        $("job-eta").textContent = ENDED.includes(job.status) ? "—" : `about ${Math.ceil(left)} s`;
        draw(metrics, last.total_steps);
      }
      if (job.fine_tuned_model && !$("job-result").querySelector("a")) $("job-result").textContent = job.fine_tuned_model;
      if (ENDED.includes(job.status)) {
        if (!ENDED.includes(section.dataset.status)) window.location.reload();  // once: it then loads ended
        return;
      }
    } catch (error) {
      // the next poll tries again
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
