// The job page follows its job live: every 2 s it reads the job and its newest events from /v1 with the signed-in
// session, updates status, step, speed and time left, and redraws the loss chart (training solid, validation
// dashed) from the `metrics` events. It stops polling once the job has ended.
(function () {
  const section = document.getElementById("job");
  if (!section) return;
  const $ = (id) => document.getElementById(id);
  const ENDED = ["succeeded", "failed", "cancelled"];
  const WIDTH = 720, HEIGHT = 200, PAD = 8;

  function line(points, maxStep, top, bottom) {
    return points.map(([step, loss]) => {
      const x = PAD + (WIDTH - 2 * PAD) * (step / Math.max(maxStep, 1));
      const y = PAD + (HEIGHT - 2 * PAD) * ((top - loss) / Math.max(top - bottom, 1e-9));
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    }).join(" ");
  }

  function draw(metrics, totalSteps) {
    const train = metrics.map((m) => [m.step, m.train_loss]);
    const valid = metrics.filter((m) => m.valid_loss !== null && m.valid_loss !== undefined).map((m) => [m.step, m.valid_loss]);
    const losses = train.concat(valid).map(([, loss]) => loss);
    if (!losses.length) return;
    const top = Math.max(...losses), bottom = Math.min(...losses);
    $("train-line").setAttribute("points", line(train, totalSteps, top, bottom));
    $("valid-line").setAttribute("points", line(valid, totalSteps, top, bottom));
    $("chart-points").textContent = String(train.length);
    $("loss-top").textContent = `loss ${top.toFixed(3)}`;
    $("loss-bottom").textContent = `loss ${bottom.toFixed(3)} (step ${totalSteps} at the right)`;
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
      if (ENDED.includes(job.status)) return;
    } catch (error) {
      // the next poll tries again
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
