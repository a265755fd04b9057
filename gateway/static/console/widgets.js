// A dashboard widget drawn from its own `data`: {"type": "line"} as lines over time,
// "bar" as one bar per slice, "tile" as a single number. Optional hints in the
// visualization: "x" (label field) and "y" (a field path or a list of them).
const Widgets = (function () {
  const TIME_KEYS = ["bucket", "time", "timestamp", "at"];
  const LABEL_KEYS = ["value", "key", "name", "error", "eventType", "id"];

  function parsed(value) {
    if (typeof value === "string") {
      try { return JSON.parse(value); } catch (error) { return value; }
    }
    return value;
  }

  function flatten(value, prefix, into) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into);
    } else {
      into[prefix] = value;
    }
    return into;
  }

  function firstList(value) {
    if (Array.isArray(value)) return value;
    if (value && typeof value === "object") {
      for (const inner of Object.values(value)) {
        const found = firstList(inner);
        if (found) return found;
      }
    }
    return null;
  }

  function numericKeys(row, wanted) {
    if (wanted) return Array.isArray(wanted) ? wanted : [wanted];
    return Object.keys(row).filter((k) => typeof row[k] === "number");
  }

  function timeLabel(value) {
    const at = new Date(value);
    if (Number.isNaN(at.getTime())) return String(value);
    return at.toISOString().slice(5, 16).replace("T", " ");
  }

  function chartOf(type, vis, data) {
    if (type === "tile") {
      const flat = flatten(data, "", {});
      const key = vis.y || Object.keys(flat).find((k) => typeof flat[k] === "number");
      return key === undefined ? null : Charts.tile(flat[key], key);
    }
    const rows = (firstList(data) || []).map((row) => flatten(row, "", {}));
    if (!rows.length) return null;
    if (type === "bar") {
      const label = vis.x || LABEL_KEYS.find((k) => k in rows[0]) || Object.keys(rows[0])[0];
      const [measure] = numericKeys(rows[0], vis.y);
      return Charts.barChart(rows.map((r) => r[label]), rows.map((r) => r[measure]));
    }
    const x = vis.x || TIME_KEYS.find((k) => k in rows[0]) || Object.keys(rows[0])[0];
    const series = {};
    for (const key of numericKeys(rows[0], vis.y)) series[key] = rows.map((r) => r[key]);
    return Charts.lineChart(rows.map((r) => timeLabel(r[x])), series);
  }

  function render(widget, dashboardId) {
    const box = document.createElement("div");
    box.className = "widget";
    const title = document.createElement("h3");
    title.textContent = widget.title;
    const download = document.createElement("a");
    download.className = "csv";
    download.textContent = "CSV";
    const token = localStorage.getItem("gateway:token");
    download.href = `/v0/dashboards/${encodeURIComponent(dashboardId)}/widgets/${encodeURIComponent(widget.id)}.csv`
      + (token ? `?token=${encodeURIComponent(token)}` : "");
    title.append(download);
    box.append(title);
    const vis = parsed(widget.visualization) || {};
    let data = parsed(widget.data);
    if (data && data.data !== undefined && typeof data.data === "object") data = data.data;
    const chart = data ? chartOf(String(vis.type || "line").toLowerCase(), vis, data) : null;
    if (chart) {
      chart.dataset.widget = widget.id;
      box.append(chart);
    } else {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No data in this widget's range.";
      box.append(empty);
    }
    return box;
  }

  return { render };
})();
