// A "Copy" button beside a secret shown once: copies the text of its data-target to the clipboard and says so.
// Without JavaScript (or a clipboard) the button stays hidden and the key can be selected by hand.
(function () {
  const button = document.getElementById("copy-key");
  if (!button || !navigator.clipboard) return;
  const status = document.getElementById("copy-status");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(document.getElementById(button.dataset.target).textContent.trim());
      status.textContent = "Copied.";
    } catch (error) {
      status.textContent = "Could not copy: select the key and copy it by hand.";
    }
  });
})();
