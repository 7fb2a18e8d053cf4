// LunaRoute UI, session list: a click anywhere on a row opens the session; changing a select applies it.
"use strict";
(() => {
  const table = document.getElementById("session-table");
  if (table) {
    table.addEventListener("click", (ev) => {
      if (ev.target.closest("a") || window.getSelection().toString()) return;
      const row = ev.target.closest("tbody tr");
      const link = row && row.querySelector("a.sid");
      if (link) window.location.href = link.href;
    });
  }
  const form = document.getElementById("filters");
  if (form) {
    for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => form.requestSubmit());
    // Leave empty fields out of the address, so a filtered list keeps a short, shareable URL.
    form.addEventListener("formdata", (ev) => {
      for (const [key, value] of [...ev.formData.entries()]) if (value === "") ev.formData.delete(key);
    });
  }
})();
