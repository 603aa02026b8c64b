"""What a person sees wrong on a page, measured in the browser: an element wider than the viewport, a word
broken inside itself, a description list whose values sit beside the wrong labels.

Each check runs in the page (Playwright's evaluate) and returns a list of readable problems; empty is right."""

# An element is too wide when its right edge passes the viewport and no ancestor scrolls or clips it sideways
# (a table in its own scrolling box is fine: that is the phone layout of a wide table).
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth, found = [];
  const clipped = (el) => { for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const x = getComputedStyle(up).overflowX; if (x === 'auto' || x === 'scroll' || x === 'hidden') return true; }
    return false; };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1 || clipped(el)) continue;
    if (getComputedStyle(el).position === 'absolute' && el.closest('details:not([open])')) continue;
    found.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')} ends at ` +
               `${Math.round(box.right)} px of ${width}: "${(el.innerText || '').slice(0, 40)}"`);
  }
  if (document.documentElement.scrollWidth > width + 1) found.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
  return found.slice(0, 10);
}"""

# A word is broken when one whitespace-delimited run of text is laid out on two lines. Runs longer than 24
# characters (hashes, ids, URLs) may wrap anywhere by design; everything a label or a cell says must not.
BROKEN_WORDS = """() => {
  const found = [], selector = 'td, th, dt, dd, label, button, summary, nav a, h1, h2, h3, .badge, .message, legend, li';
  for (const el of document.querySelectorAll(selector)) {
    if (el.closest('pre, code, .raw-front-matter, details:not([open])') || el.getClientRects().length === 0) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('pre, code')) continue;
      const pattern = /\\S+/g; let match;
      while ((match = pattern.exec(node.data))) {
        if (match[0].length > 24 || match[0].length < 2) continue;
        const range = document.createRange(); range.setStart(node, match.index); range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) found.push(`"${match[0]}" in ${el.tagName.toLowerCase()} breaks over ${lines.size} lines`);
      }
    }
  }
  return [...new Set(found)].slice(0, 10);
}"""

# Each <dt> must have its own <dd> next to it, on its row (a grid) or right under it (stacked); pairs go down the
# page in order. The old float layout put "300 tokens" beside "Context length"'s neighbour.
DL_PAIRS = """() => {
  const found = [];
  for (const dl of document.querySelectorAll('dl')) {
    if (dl.getClientRects().length === 0) continue;
    for (const dt of dl.querySelectorAll('dt')) {
      const dd = dt.nextElementSibling;
      if (!dd || dd.tagName !== 'DD') { found.push(`"${dt.innerText}" has no value after it`); continue; }
      const label = dt.getBoundingClientRect(), value = dd.getBoundingClientRect();
      const sameRow = Math.abs(label.top - value.top) < 6;
      const below = value.top >= label.bottom - 2 && value.top - label.bottom < 12 && Math.abs(value.left - label.left) < 4;
      if (!sameRow && !below) found.push(`"${dt.innerText}" and "${dd.innerText}" are not side by side nor stacked`);
    }
  }
  return found.slice(0, 10);
}"""


def layout_problems(page) -> dict[str, list[str]]:
    """The three checks on the page as it is now, keyed by what they look for; only the non-empty ones."""
    checks = {"too wide": TOO_WIDE, "broken words": BROKEN_WORDS, "labels and values": DL_PAIRS}
    return {name: found for name, script in checks.items() if (found := page.evaluate(script))}
