// Keeps the validation section of a commit current until validation has finished.
(function () {
  const section = document.getElementById("validation");
  if (!section) return;
  const done = (status) => status === "valid" || status === "invalid";
  async function refresh() {
    const response = await fetch(section.dataset.url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    section.className = "validation status-" + data.status;
    section.querySelector(".status").textContent = data.status;
    section.querySelector(".error").textContent = data.error || "";
    const report = section.querySelector(".report");
    report.replaceChildren();
    for (const [key, value] of Object.entries(data.report || {})) {
      if (key === "files") continue;
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      report.append(dt, dd);
    }
    if (!done(data.status)) setTimeout(refresh, 1000);
  }
  if (!done(section.querySelector(".status").textContent.trim())) setTimeout(refresh, 500);
})();
