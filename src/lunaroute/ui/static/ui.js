// LunaRoute UI, every page: show recorded instants in the reader's local time (UTC stays in the tooltip).
"use strict";
(() => {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  function localize(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const when = new Date(t.getAttribute("datetime"));
      if (!t.getAttribute("datetime") || Number.isNaN(when.getTime()) || t.dataset.local) continue;
      t.title = t.textContent;
      t.textContent = fmt.format(when);
      t.dataset.local = "1";
    }
  }
  window.LunaLocalize = localize;
  document.addEventListener("DOMContentLoaded", () => localize(document));
})();
