// The catalogue's filters fold away on narrow screens, so the results come first; without JavaScript they stay open.
// A panel with filters in force stays open, so what narrows the results is always in sight.
(function () {
  if (!window.matchMedia("(max-width: 700px)").matches) return;
  document.querySelectorAll("details[data-fold-narrow]").forEach(function (panel) {
    if (panel.dataset.active === "0") panel.open = false;
  });
})();
