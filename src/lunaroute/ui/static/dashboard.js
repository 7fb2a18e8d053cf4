// LunaRoute UI, dashboard: fills the cards from the JSON API and polls it every few seconds while visible.
"use strict";
(() => {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const { h, fmt, bars, hbars, tokenBar } = window.LunaCharts;
  const hours = Number(root.dataset.hours) || 24;
  // Cards link to the session list filtered to what they show, in this window.
  const listed = (key, value) => `/sessions?${key}=${encodeURIComponent(value)}&since=${root.dataset.since || "24h"}`;
  // Every poll reads the window's figures; the all-time ones and the per-client ones change slowly.
  const POLL_MS = Number(root.dataset.refreshMs) || 5000, SLOW_MS = 30000, COSTS_MS = 60000, CLIENTS = 6;
  const $ = (id) => document.getElementById(id);
  const live = $("live");
  const state = { metric: "requests", spending: null, activity: null, costs: null, costsAt: 0, slowAt: 0, timer: 0, busy: false };

  async function getJSON(path) {
    const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) {
      let message = `${r.status}`;
      try { message = (await r.json()).error.message; } catch (_) { /* not JSON */ }
      throw new Error(`${path}: ${message}`);
    }
    return r.json();
  }

  function kpi(key, value, text, sub, title) {
    const v = root.querySelector(`[data-kpi="${key}"]`);
    v.textContent = text;
    v.dataset.value = value === null || value === undefined ? "" : String(value);
    v.title = title || "";
    root.querySelector(`[data-sub="${key}"]`).textContent = sub || "";
    return v;
  }

  const windowName = { 1: "last hour", 24: "last 24 hours", 168: "last 7 days", 720: "last 30 days" }[hours] || `last ${hours} h`;

  function renderKpis(o, spending) {
    kpi("requests", o.requests, fmt.int(o.requests), windowName);
    // Sessions started in the window; active ones may have started before it, so the two counts differ.
    kpi("sessions", o.sessions, fmt.int(o.sessions), `started · ${fmt.int(o.active_sessions)} active (any start)`,
      `${fmt.int(o.sessions)} sessions started in the ${windowName}; ${fmt.int(o.active_sessions)} sessions had requests in it`);
    kpi("tokens", o.total_tokens, fmt.compact(o.total_tokens),
      `${fmt.compact(o.tokens.input)} in · ${fmt.compact(o.tokens.output)} out`, fmt.int(o.total_tokens));
    kpi("cost", o.total_cost_usd, fmt.cost(o.total_cost_usd),
      spending && spending.avg_cost_per_session !== null ? `${fmt.cost(spending.avg_cost_per_session)} per session` : "");
    kpi("errors", o.failed_sessions, fmt.int(o.failed_sessions),
      o.completed_sessions ? `${fmt.pct(o.success_rate)} of ${fmt.int(o.completed_sessions)} succeeded` : "none completed")
      .classList.toggle("bad", o.failed_sessions > 0);
    kpi("ttft", o.avg_ttft_ms, fmt.ms(o.avg_ttft_ms), o.p95_ttft_ms === null ? "streamed requests" : `p95 ${fmt.ms(o.p95_ttft_ms)}`);
    kpi("latency", o.avg_duration_ms, fmt.ms(o.avg_duration_ms), "mean per session");
  }

  // Bucket size in minutes: a minute for the hour, a quarter for the day (both read from /api/stats/activity),
  // then the hourly figures of /api/stats/spending gathered in 3 hours (week) or a day (month).
  const bucketMinutes = hours <= 1 ? 1 : hours <= 48 ? 15 : hours <= 168 ? 180 : 1440;
  const fine = bucketMinutes < 60;

  function renderActivity() {
    const box = $("chart-activity");
    const rows = fine ? state.activity : state.spending && state.spending.by_hour;
    if (!rows) return;
    const step = bucketMinutes * 60e3;
    const now = Date.now();
    const first = Math.floor((now - hours * 3600e3) / step) * step;
    const buckets = new Map();
    for (let t = first; t <= now; t += step) buckets.set(t, { requests: 0, total_tokens: 0, cost_usd: 0 });
    for (const row of rows) {
      const key = Math.floor(Date.parse(fine ? row.start : row.hour) / step) * step;
      const b = buckets.get(key);
      if (!b) continue;
      b.requests += row.requests;
      b.total_tokens += row.total_tokens;
      b.cost_usd += row.cost_usd || 0;
    }
    const m = state.metric;
    const format = m === "cost_usd" ? fmt.cost : fmt.compact;
    const time = (d) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    const day = (d) => d.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" });
    // Week and month label each day once (a bucket that starts a local day); shorter windows the time.
    const label = (t) => {
      const d = new Date(t);
      if (bucketMinutes >= 1440) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
      if (bucketMinutes >= 60) return d.getHours() * 60 + d.getMinutes() < bucketMinutes ? day(d) : "";
      return time(d);
    };
    const points = [...buckets].map(([t, b]) => ({
      label: label(t), value: b[m],
      title: `${new Date(t).toLocaleString()}\n${fmt.int(b.requests)} requests · ${fmt.int(b.total_tokens)} tokens · ${fmt.cost(b.cost_usd)}`,
    }));
    bars(box, points, format, m !== "cost_usd");
  }

  function byProvider(spending) {
    const acc = new Map();
    for (const m of spending.by_model) {
      const key = m.provider || "unknown";
      const a = acc.get(key) || { name: key, requests: 0, tokens: 0, cost: null };
      a.requests += m.request_count;
      a.tokens += m.total_tokens;
      if (m.cost_usd !== null) a.cost = (a.cost || 0) + m.cost_usd;
      acc.set(key, a);
    }
    return [...acc.values()].sort((a, b) => b.requests - a.requests);
  }

  const usageText = (r) => `${fmt.int(r.requests)} req · ${fmt.compact(r.tokens)} tok · ${fmt.cost(r.cost)}`;

  function renderTools(tools) {
    const box = $("chart-tools");
    box.textContent = "";
    if (!tools.length) {
      box.append(h("p", "muted", "No tool calls recorded yet."));
      return;
    }
    const table = h("table", "mini");
    const head = h("tr");
    for (const [t, c] of [["Tool", ""], ["Calls", "num"], ["Errors", "num"], ["Success", "num"]]) head.append(h("th", c, t));
    table.append(head);
    for (const t of tools) {
      const tr = h("tr");
      tr.dataset.tool = t.tool_name;
      const name = h("td");
      const link = h("a", null, t.tool_name);
      link.href = "/sessions?tool=" + encodeURIComponent(t.tool_name);
      name.append(link);
      tr.append(name, h("td", "num", fmt.int(t.call_count)), h("td", "num", fmt.int(t.error_count)),
        h("td", "num", fmt.pct(t.success_rate)));
      table.append(tr);
    }
    box.append(table);
  }

  function renderCosts(spending) {
    const box = $("chart-costs");
    box.textContent = "";
    const dl = h("dl", "costs");
    const c = state.costs || {};
    const rows = [
      [`This window (${windowName})`, spending.total_cost_usd], ["Per session", spending.avg_cost_per_session],
      ["Today (UTC)", c.today], ["This week", c.this_week], ["This month", c.this_month],
      ["Projected per month", c.projection_monthly], ["All time", c.total],
    ];
    for (const [label, value] of rows) dl.append(h("dt", null, label), h("dd", null, fmt.cost(value)));
    box.append(dl);
  }

  function renderRecent(sessions) {
    const box = $("chart-recent");
    box.textContent = "";
    if (!sessions.length) {
      box.append(h("p", "muted", "No sessions recorded yet. Point a client at the gateway and they appear here."));
      return;
    }
    const table = h("table", "mini");
    const head = h("tr");
    const columns = [["Started", ""], ["Session", ""], ["Client", ""], ["Model", ""], ["Requests", "num"],
      ["Tokens", "num"], ["Cost", "num"], ["Status", ""]];
    const col = (i) => "c-" + columns[i][0].toLowerCase() + (columns[i][1] ? " " + columns[i][1] : "");
    columns.forEach((_, i) => head.append(h("th", col(i), columns[i][0])));
    table.append(head);
    for (const s of sessions) {
      const tr = h("tr");
      const when = h("time", null, s.started_at || "");
      if (s.started_at) when.setAttribute("datetime", s.started_at);
      const link = h("a", "sid", s.session_id.length > 20 ? s.session_id.slice(0, 20) + "…" : s.session_id);
      link.href = "/sessions/" + encodeURIComponent(s.session_id);
      const status = s.success === null ? ["open", "open"]
        : s.success && s.failed_requests ? ["partial", fmt.int(s.failed_requests) + " failed"]
        : s.success ? ["ok", "ok"] : ["failed", "failed"];
      const texts = [null, null, s.user_agent || "—", s.model_used || s.model_requested, fmt.int(s.request_count),
        fmt.int(s.total_tokens), fmt.cost(s.cost_usd), null];
      const cells = texts.map((t, i) => h("td", col(i), t));
      cells[0].append(when);
      cells[1].append(link);
      cells[7].append(h("span", "badge " + status[0], status[1]));
      tr.append(...cells);
      table.append(tr);
    }
    const wrap = h("div", "mini-wrap");
    wrap.append(table);
    box.append(wrap);
    if (window.LunaLocalize) window.LunaLocalize(box);
  }

  function renderHealth(providers) {
    const box = $("chart-health");
    box.textContent = "";
    if (!providers.live) {
      box.append(h("p", "muted", "This UI runs without a gateway: provider health is shown by the gateway's own UI."));
      return;
    }
    const table = h("table", "mini");
    const head = h("tr");
    const cols = [["Provider", "h-name"], ["Circuit", ""], ["Health", ""], ["Success", "num h-rate"],
      ["p50", "num h-p50"], ["In flight", "num h-flight"], ["Last error", "h-error"]];
    for (const [name, cls] of cols) head.append(h("th", cls || null, name));
    table.append(head);
    const pct = (v) => (v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`);
    const secs = (v) => (v === null || v === undefined ? "—" : fmt.ms(1000 * v));
    for (const p of providers.data) {
      const tr = h("tr");
      tr.dataset.provider = p.name;
      const health = p.health || { status: "unknown", requests: 0, success_rate: null, latency_p50_s: null };
      const circuit = h("td");
      circuit.append(h("span", "badge " + (p.breaker === "closed" ? "ok" : p.breaker === "open" ? "failed" : "partial"), p.breaker));
      const status = h("td");
      status.append(h("span", "badge " + (health.status === "healthy" ? "ok" : health.status === "unhealthy" ? "failed" : "open"), health.status));
      tr.append(h("td", "h-name", p.name), circuit, status, h("td", "num h-rate", pct(health.success_rate)),
        h("td", "num h-p50", secs(health.latency_p50_s)), h("td", "num h-flight", fmt.int(p.in_flight || 0)),
        h("td", "muted h-error", p.last_error || "—"));
      table.append(tr);
    }
    const wrap = h("div", "mini-wrap");
    wrap.append(table);
    box.append(wrap);
  }

  async function clientsUsage() {
    const clients = await getJSON(`/api/stats/clients?hours=${hours}&limit=${CLIENTS}`);
    return clients.map((c) => ({ name: c.user_agent, requests: c.request_count, tokens: c.total_tokens, cost: c.cost_usd }));
  }

  async function keysUsage() {
    const keys = await getJSON(`/api/stats/keys?hours=${hours}`);
    const teams = new Map();
    for (const k of keys) {
      const name = k.team || "(no team)";
      const t = teams.get(name) || { name, team: k.team, requests: 0, tokens: 0, cost: null };
      t.requests += k.request_count;
      t.tokens += k.total_tokens;
      if (k.cost_usd != null) t.cost = (t.cost || 0) + k.cost_usd;
      teams.set(name, t);
    }
    return {
      keys: keys.map((k) => ({ id: k.key_id, name: k.key_name, requests: k.request_count, tokens: k.total_tokens, cost: k.cost_usd })),
      teams: [...teams.values()].sort((a, b) => b.requests - a.requests),
    };
  }

  function renderFast(overview, spending, models, recent, activity) {
    state.spending = spending;
    state.activity = activity;
    renderKpis(overview, spending);
    renderActivity();
    tokenBar($("chart-tokens"), overview.tokens);
    renderCosts(spending);
    hbars($("chart-models"), models.map((m) => ({
      name: m.model_name, value: m.request_count, href: listed("model", m.model_name),
      text: usageText({ requests: m.request_count, tokens: m.total_tokens, cost: m.cost_usd }),
    })));
    hbars($("chart-providers"), byProvider(spending).map((p) => ({
      name: p.name, value: p.requests, text: usageText(p), href: p.name === "unknown" ? null : listed("provider", p.name),
    })));
    renderRecent(recent);
  }

  function renderLatency(rows) {
    hbars($("chart-latency"), rows.slice(0, 8).map((m) => ({
      name: m.model_name, value: m.p95_ms, href: listed("model", m.model_name),
      text: `p50 ${fmt.ms(m.p50_ms)} · p95 ${fmt.ms(m.p95_ms)} · ${fmt.int(m.requests)} req`,
    })), "No finished requests in this window.");
  }

  function renderErrors(rows) {
    const failed = `/sessions?success=false&since=${root.dataset.since || "24h"}`;
    hbars($("chart-errors"), rows.map((r) => ({
      name: r.status === null ? "no status (client gone, no answer)" : `HTTP ${r.status}`, value: r.requests,
      text: `${fmt.int(r.requests)} req`, href: failed,
    })), "No failed requests in this window.");
  }

  async function refreshSlow() {
    const [tools, clients, costs, latency, errors, keyed, budgets] = await Promise.all([
      getJSON("/api/stats/tools?limit=8"),
      clientsUsage(),
      Date.now() - state.costsAt > COSTS_MS ? getJSON("/api/stats/costs") : Promise.resolve(null),
      getJSON(`/api/stats/latency?hours=${hours}`),
      getJSON(`/api/stats/errors?hours=${hours}`),
      keysUsage(),
      getJSON("/api/budgets"),
    ]);
    hbars($("chart-keys"), keyed.keys.map((k) => ({
      name: k.name, value: k.requests, text: usageText(k),
      href: listed("key", k.id),
    })), "No requests with a gateway key in this window.");
    hbars($("chart-teams"), keyed.teams.map((t) => ({
      name: t.name, value: t.requests, text: usageText(t),
      href: t.team ? listed("team", t.team) : undefined,
    })), "No requests with a gateway key in this window.");
    hbars($("chart-budgets"), budgets.map((b) => ({
      name: `${b.scope} ${b.name}`, value: b.budget_usd ? (100 * b.spent_usd) / b.budget_usd : 100,
      text: `$${b.spent_usd.toFixed(2)} of $${b.budget_usd.toFixed(2)} per ${b.period}` +
        (b.reserved_usd ? ` (+$${b.reserved_usd.toFixed(2)} held)` : ""),
      href: listed(b.scope === "team" ? "team" : "key", b.id),
    })), "No key or team has a budget.");
    renderTools(tools);
    renderLatency(latency);
    renderErrors(errors);
    hbars($("chart-clients"), clients.map((c) => ({
      name: c.name, value: c.requests, text: usageText(c),
      href: listed("user_agent", c.name),
    })));
    if (costs) {
      state.costs = costs;
      state.costsAt = Date.now();
      if (state.spending) renderCosts(state.spending);
    }
    state.slowAt = Date.now();
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    const started = performance.now();
    try {
      const [overview, spending, models, recent, activity, providers] = await Promise.all([
        getJSON(`/api/stats/overview?hours=${hours}`),
        getJSON(`/api/stats/spending?hours=${hours}`),
        getJSON(`/api/stats/models?hours=${hours}`),
        getJSON("/api/sessions/recent?limit=8"),
        fine ? getJSON(`/api/stats/activity?hours=${hours}&minutes=${bucketMinutes}`) : Promise.resolve(null),
        getJSON("/api/providers"),
      ]);
      renderFast(overview, spending, models, recent, activity);
      renderHealth(providers);
      if (Date.now() - state.slowAt > SLOW_MS) await refreshSlow();
      $("dash-error").hidden = true;
      live.className = "live on";
      live.textContent = "Live · updated " + new Date().toLocaleTimeString();
      root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
    } catch (err) {
      const box = $("dash-error");
      box.hidden = false;
      box.textContent = "Could not load the statistics: " + err.message;
      live.className = "live stale";
      live.textContent = "Not updating";
    } finally {
      state.busy = false;
      const took = performance.now() - started;
      clearTimeout(state.timer);
      if (!document.hidden) state.timer = setTimeout(refresh, Math.max(POLL_MS, 3 * took));
    }
  }

  $("activity-metric").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-metric]");
    if (!button) return;
    state.metric = button.dataset.metric;
    for (const b of ev.currentTarget.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    renderActivity();
  });
  document.addEventListener("visibilitychange", () => {
    clearTimeout(state.timer);
    if (!document.hidden) refresh();
  });
  let resize = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(renderActivity, 150);
  });
  refresh();
})();
