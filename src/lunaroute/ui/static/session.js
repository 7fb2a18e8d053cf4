// LunaRoute UI, session detail: raw request/response JSON shown in place, copy buttons, and deletion after a
// confirmation.
"use strict";
(() => {
  // The text a copy button copies: the whole text, without the fold's "Show all" line or the cut note.
  function textOf(node) {
    const copy = node.cloneNode(true);
    for (const extra of copy.querySelectorAll("summary, .cut, button.copy")) extra.remove();
    return copy.textContent;
  }

  async function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");  // plain http on another host: the old way
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }

  function copyButton(source, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.title = label;
    button.addEventListener("click", async (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      try {
        await writeClipboard(textOf(source));
        button.textContent = "Copied";
      } catch (_) {
        button.textContent = "Copy failed";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
    return button;
  }

  // A copy button on every message text, tool call's arguments and tool result.
  for (const part of document.querySelectorAll("ol.timeline .part")) {
    const source = part.querySelector(":scope > .text, :scope > .code, :scope > details > .text");
    if (!source) continue;
    const label = part.classList.contains("tool-call") ? "Copy the arguments"
      : part.classList.contains("tool-result") ? "Copy the result" : "Copy the text";
    part.classList.add("copyable");
    part.prepend(copyButton(source, label));
  }

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
        if (value !== null) h.append(" ", copyButton(pre, `Copy the ${title.toLowerCase()} JSON`));
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
