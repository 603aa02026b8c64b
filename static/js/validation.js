// Keeps the validation section of a commit current until validation has finished, then reloads the page once so
// the server renders the report as a person reads it (units, sizes, the sample).
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
    if (done(data.status)) window.location.reload();
    else setTimeout(refresh, 1000);
  }
  if (!done(section.querySelector(".status").textContent.trim())) setTimeout(refresh, 500);
})();
