// Resumable chunked upload: each file gets an upload session; chunks are PUT at the offset the server
// reports, so after a dropped connection the next try resumes where the server stopped.
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const CHUNK = 8 * 1024 * 1024;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const progress = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const statusLine = document.getElementById("upload-status");
  const headers = { "X-CSRFToken": csrf };

  async function api(method, url, body, extra) {
    const init = { method, headers: { ...headers, ...(extra || {}) }, credentials: "same-origin" };
    if (body instanceof Blob) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function sendFile(file, done, total) {
    let session = await api("POST", "/api/uploads", { repo: form.dataset.repo, path: file.name, size: file.size });
    let attempts = 0;
    while (session.received < session.size) {
      const start = session.received;
      const end = Math.min(start + CHUNK, file.size);
      try {
        session = await api("PUT", `/api/uploads/${session.id}`, file.slice(start, end), { "Upload-Offset": String(start) });
        attempts = 0;
      } catch (error) {
        if (error.status && error.status < 500 && error.status !== 409) throw error;
        if (++attempts > 8) throw error;
        statusLine.textContent = `Connection lost, resuming ${file.name}…`;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempts));
        session = await api("GET", `/api/uploads/${session.id}`);
      }
      const percent = Math.floor(((done + session.received) / Math.max(total, 1)) * 100);
      progress.value = percent;
      progressText.textContent = percent + "%";
    }
    return session;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(document.getElementById("files").files);
    if (!files.length) { statusLine.textContent = "Choose files first."; return; }
    const total = files.reduce((sum, f) => sum + f.size, 0);
    let done = 0;
    const ids = [];
    try {
      for (const file of files) {
        statusLine.textContent = `Uploading ${file.name}…`;
        const session = await sendFile(file, done, total);
        ids.push(session.id);
        done += file.size;
      }
      progress.value = 100;
      progressText.textContent = "100%";
      statusLine.textContent = "Committing…";
      const commit = await api("POST", "/api/uploads/commit", {
        repo: form.dataset.repo, uploads: ids, message: document.getElementById("message").value,
      });
      statusLine.textContent = `Committed ${commit.sha.slice(0, 12)}; validation has started.`;
      const link = document.createElement("a");
      link.id = "commit-link";
      link.href = `/${form.dataset.repo}/commit/${commit.sha}`;
      link.textContent = "See the commit and its validation report";
      document.getElementById("commit-result").replaceChildren(link);
    } catch (error) {
      statusLine.textContent = "Upload failed: " + error.message;
    }
  });
})();
