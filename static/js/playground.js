// The model page's playground: calls /v1 with the signed-in session (and the page's CSRF token), streams the
// answer into the page as server-sent events, and shows time to first token and tokens per second.
(function () {
  const section = document.getElementById("playground");
  const form = document.getElementById("playground-form");
  if (!section || !form) return;
  const $ = (id) => document.getElementById(id);
  const output = $("pg-output"), stats = $("pg-stats"), error = $("pg-error");
  const runButton = $("pg-run"), stopButton = $("pg-stop"), mode = $("pg-mode");
  let controller = null;

  function showMode() {
    for (const element of section.querySelectorAll(".pg-chat")) element.hidden = mode.value !== "chat";
  }
  mode.addEventListener("change", showMode);
  showMode();

  function number(id, parse) {
    const raw = $(id).value.trim();
    return raw === "" ? undefined : parse(raw);
  }

  function body() {
    const request = {
      model: section.dataset.model,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: number("pg-max-tokens", parseInt),
      temperature: number("pg-temperature", parseFloat),
      top_p: number("pg-top-p", parseFloat),
      top_k: number("pg-top-k", parseInt),
      seed: number("pg-seed", parseInt),
    };
    const text = $("pg-prompt").value;
    if (mode.value === "chat") {
      const system = $("pg-system").value.trim();
      request.messages = [...(system ? [{ role: "system", content: system }] : []), { role: "user", content: text }];
    } else {
      request.prompt = text;
    }
    return request;
  }

  // Tokens per second over the whole call (its tokens over the time from sending it to its last byte), as the
  // catalogue measures each listing's speed from its calls: from the first token on, a stream that arrives in one
  // burst made 4,200 tokens/s of a model the store measured at 13.
  function describe(started, firstAt, endedAt, usage) {
    if (firstAt === null) return "No tokens.";
    const ttft = Math.round(firstAt - started);
    const parts = [`time to first token ${ttft} ms`];
    const tokens = usage ? usage.completion_tokens : null;
    if (tokens !== null) {
      const seconds = (endedAt - started) / 1000;
      const rate = seconds > 0 ? tokens / seconds : 0;
      parts.push(`${rate.toFixed(1)} tokens/s over the whole call`, `${tokens} tokens (${usage.prompt_tokens} in the prompt)`);
      Object.assign(stats.dataset, { ttftMs: String(ttft), tokens: String(tokens), rate: rate.toFixed(1) });
    }
    return parts.join(" · ");
  }

  async function run(event) {
    event.preventDefault();
    output.textContent = "";
    stats.textContent = "";
    error.textContent = "";
    controller = new AbortController();
    runButton.disabled = true;
    stopButton.disabled = false;
    const chat = mode.value === "chat";
    const started = performance.now();
    let firstAt = null, usage = null;
    try {
      const response = await fetch(chat ? section.dataset.url : section.dataset.completionsUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
        body: JSON.stringify(body()),
        signal: controller.signal,
        credentials: "same-origin",
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const line = buffer.slice(0, end).trim();
          buffer = buffer.slice(end + 2);
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          for (const choice of chunk.choices || []) {
            let text = chat ? (choice.delta && choice.delta.content) || "" : choice.text || "";
            if (!text) continue;
            if (firstAt === null) firstAt = performance.now();
            // the blank lines a model often starts with are not shown (the answer itself is unchanged)
            if (!output.textContent) text = text.replace(/^\s*\n/, "");
            output.textContent += text;
          }
        }
        stats.textContent = describe(started, firstAt, performance.now(), usage);
      }
      stats.textContent = describe(started, firstAt, performance.now(), usage);
      stats.dataset.done = "true";
    } catch (failure) {
      if (failure.name !== "AbortError") error.textContent = failure.message;
      else stats.textContent = "Stopped.";
    } finally {
      runButton.disabled = false;
      stopButton.disabled = true;
      controller = null;
    }
  }

  form.addEventListener("submit", run);
  stopButton.addEventListener("click", () => controller && controller.abort());
})();
