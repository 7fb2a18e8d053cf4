// LunaRoute UI, session detail: raw request/response JSON shown in place, and deletion after a confirmation.
"use strict";
(() => {
  async function showRaw(link) {
    const req = link.closest("li.req");
    let box = req.querySelector(".raw");
    if (box) {
      box.hidden = !box.hidden;
      return;
    }
    box = document.createElement("div");
    box.className = "raw";
    box.textContent = "Loading…";
    req.querySelector(".req-body").append(box);
    try {
      const r = await fetch(link.dataset.raw, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const data = await r.json();
      box.textContent = "";
      for (const [title, value] of [["Request", data.request], ["Response", data.response]]) {
        const h = document.createElement("h3");
        h.textContent = title;
        const pre = document.createElement("pre");
        pre.textContent = value === null ? "(not recorded)" : JSON.stringify(value, null, 2);
        box.append(h, pre);
      }
      const all = document.createElement("a");
      all.href = link.href;
      all.target = "_blank";
      all.rel = "noopener";
      all.textContent = `All ${data.events.length} recorded events of this request`;
      box.append(all);
    } catch (err) {
      box.textContent = "Could not load the raw JSON: " + err.message;
    }
  }

  document.addEventListener("click", (ev) => {
    const link = ev.target.closest("a.raw-link");
    if (!link || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    showRaw(link);
  });

  const del = document.getElementById("delete-session");
  if (del) {
    del.addEventListener("click", async () => {
      const sid = del.dataset.session;
      if (!window.confirm(`Delete session ${sid}?\n\nIts database rows and recorded files are removed for good.`)) return;
      del.disabled = true;
      const r = await fetch("/api/sessions/" + encodeURIComponent(sid), { method: "DELETE", credentials: "same-origin" });
      if (r.ok) {
        window.location.assign("/sessions?deleted=" + encodeURIComponent(sid));
        return;
      }
      del.disabled = false;
      let message = `HTTP ${r.status}`;
      try { message = (await r.json()).error.message; } catch (_) { /* not JSON */ }
      window.alert("The session could not be deleted: " + message);
    });
  }
})();
