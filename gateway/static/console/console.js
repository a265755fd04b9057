// The console: reads the public GraphQL API with the user's token, like any frontend.
(function () {
  const TOKEN_KEY = "gateway:token";
  const status = document.getElementById("status");
  const tokenInput = document.getElementById("token");
  tokenInput.value = localStorage.getItem(TOKEN_KEY) || "";

  async function gql(query, variables) {
    const headers = { "Content-Type": "application/json" };
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    if (response.status === 401) throw new Error("the gateway needs a token: paste it in the Token field above");
    const body = await response.json().catch(() => ({}));
    if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
    if (!response.ok || !body.data) throw new Error(`the gateway answered ${response.status} ${response.statusText}`);
    return body.data;
  }

  // Which optional root fields this gateway serves (dashboards and insights may not exist yet).
  async function rootFields() {
    const data = await gql("{ __schema { queryType { fields { name } } } }");
    return new Set(data.__schema.queryType.fields.map((f) => f.name));
  }

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    if (numeric) td.className = "num";
    if (text instanceof Node) td.append(text);
    else td.textContent = text;
    row.append(td);
  }

  const percent = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
  const ms = (v) => (v === null || v === undefined ? "–" : v.toFixed(0) + " ms");
  const n = Charts.formatNumber;

  function fillTable(id, rows) {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren();
    if (!rows.length) {
      const tr = document.createElement("tr");
      cell(tr, "nothing yet");
      body.append(tr);
    }
    for (const cells of rows) {
      const tr = document.createElement("tr");
      cells.forEach((value, i) => cell(tr, value, i > 0));
      body.append(tr);
    }
  }

  async function loadEntities() {
    const data = await gql(`{
      products(first: 50) { nodes { id name overview { totalEvents errorRate p95PageLoadTimeMs uniqueUsers }
        timeseries(granularity: HOUR) { metrics { totalEvents } } } }
      endpoints(first: 50) { nodes { name stats { requests errorRate p95LatencyMs uniqueUsers }
        timeseries(granularity: HOUR) { metrics { requests } } } }
      models(first: 50) { nodes { id performance { predictionCount labeledCount rmse mae }
        timeseries(granularity: HOUR) { metrics { predictionCount } } } }
    }`);
    fillTable("products", data.products.nodes.map((p) => [
      p.name ? `${p.name} (${p.id})` : p.id, n(p.overview.totalEvents), percent(p.overview.errorRate),
      ms(p.overview.p95PageLoadTimeMs), n(p.overview.uniqueUsers),
      Charts.sparkline(p.timeseries.map((t) => t.metrics.totalEvents)),
    ]));
    fillTable("endpoints", data.endpoints.nodes.map((e) => [
      e.name, n(e.stats.requests), percent(e.stats.errorRate), ms(e.stats.p95LatencyMs), n(e.stats.uniqueUsers),
      Charts.sparkline(e.timeseries.map((t) => t.metrics.requests)),
    ]));
    fillTable("models", data.models.nodes.map((m) => [
      m.id, n(m.performance.predictionCount), n(m.performance.labeledCount), n(m.performance.rmse), n(m.performance.mae),
      Charts.sparkline(m.timeseries.map((t) => t.metrics.predictionCount)),
    ]));
  }

  async function loadInsights() {
    const data = await gql("{ insights(first: 10) { targetId measure severity message recommendation } }");
    const list = document.getElementById("insight-list");
    list.replaceChildren();
    for (const insight of data.insights) {
      const li = document.createElement("li");
      li.className = insight.severity;
      const what = document.createElement("div");
      what.textContent = `${insight.targetId}: ${insight.message}`;
      const next = document.createElement("div");
      next.className = "recommendation";
      next.textContent = insight.recommendation;
      li.append(what, next);
      list.append(li);
    }
    if (!data.insights.length) list.textContent = "Nothing changed beyond the usual.";
    document.getElementById("insights").hidden = false;
  }

  async function loadDashboards() {
    const data = await gql("{ dashboards { id name description widgets { id title visualization data } } }");
    const host = document.getElementById("dashboard-list");
    host.replaceChildren();
    for (const dashboard of data.dashboards) {
      const section = document.createElement("div");
      section.className = "dashboard";
      const title = document.createElement("h3");
      title.textContent = dashboard.name;
      const about = document.createElement("p");
      about.textContent = dashboard.description || "";
      const grid = document.createElement("div");
      grid.className = "widgets";
      for (const widget of dashboard.widgets) grid.append(Widgets.render(widget, dashboard.id));
      section.append(title, about, grid);
      host.append(section);
    }
    if (!data.dashboards.length) host.textContent = "No saved dashboards yet (createDashboard in GraphiQL).";
    document.getElementById("dashboards").hidden = false;
  }

  async function load() {
    status.className = "status";
    status.textContent = "Loading…";
    try {
      const fields = await rootFields();
      for (const name of ["dashboards", "insights"]) {
        document.querySelector(`nav a[href="#${name}"]`).hidden = !fields.has(name);
      }
      const parts = [loadEntities()];
      if (fields.has("dashboards")) parts.push(loadDashboards());
      if (fields.has("insights")) parts.push(loadInsights());
      await Promise.all(parts);
      status.textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (error) {
      status.className = "status error";
      status.textContent = error.message;
    }
  }

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
    load();
  });
  load();
  // Numbers move as data arrives: refresh once a minute (widgets' default refreshSeconds).
  setInterval(load, 60_000);
})();
