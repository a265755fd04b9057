// A dashboard widget drawn from its own `data`. The visualization says how:
// `type` line (over time), bar (one bar per item) or tile (one number);
// `path` to the list (or the number) in data; `x` and `y` within each item,
// dotted; for several lines, `y` and `series` inside a nested list
// (e.g. "groups.value" and "groups.key"). Without hints the first list and
// its numeric fields are drawn.
const Widgets = (function () {
  const TIME_KEYS = ["bucket", "time", "timestamp", "at"];
  const LABEL_KEYS = ["value", "key", "name", "error", "eventType", "id"];

  function parsed(value) {
    if (typeof value === "string") {
      try { return JSON.parse(value); } catch (error) { return value; }
    }
    return value;
  }

  function at(value, path) {
    return String(path).split(".").reduce((v, key) => (v === null || v === undefined ? undefined : v[key]), value);
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

  function numericFields(item) {
    const flat = flatten(item, "", {});
    return Object.keys(flat).filter((k) => typeof flat[k] === "number");
  }

  function timeLabel(value) {
    const when = new Date(value);
    if (typeof value !== "string" || Number.isNaN(when.getTime())) return String(value);
    return when.toISOString().slice(5, 16).replace("T", " ");
  }

  function tileOf(vis, data) {
    if (vis.path && typeof at(data, vis.path) === "number") {
      return Charts.tile(at(data, vis.path), vis.path.split(".").pop());
    }
    const flat = flatten(data, "", {});
    const key = Object.keys(flat).find((k) => typeof flat[k] === "number");
    return key === undefined ? null : Charts.tile(flat[key], key);
  }

  // One line per value of `series` inside each item's nested list.
  function groupedSeries(items, vis) {
    const [list, ...yField] = vis.y.split(".");
    const keyField = vis.series.split(".").slice(1).join(".");
    const series = {};
    items.forEach((item, i) => {
      for (const group of at(item, list) || []) {
        const name = String(at(group, keyField));
        series[name] = series[name] || items.map(() => null);
        series[name][i] = at(group, yField.join("."));
      }
    });
    return series;
  }

  function lineOf(vis, items) {
    const x = vis.x || TIME_KEYS.find((k) => k in items[0]) || Object.keys(items[0])[0];
    let series = {};
    if (vis.y && vis.series) series = groupedSeries(items, vis);
    else if (vis.y) series[vis.y] = items.map((item) => at(item, vis.y));
    else for (const field of numericFields(items[0])) series[field] = items.map((item) => at(item, field));
    return Charts.lineChart(items.map((item) => timeLabel(at(item, x))), series);
  }

  function barOf(vis, items) {
    const x = vis.x || LABEL_KEYS.find((k) => k in items[0]) || Object.keys(items[0])[0];
    const y = vis.y || numericFields(items[0])[0];
    return Charts.barChart(items.map((item) => at(item, x)), items.map((item) => at(item, y)));
  }

  function chartOf(type, vis, data) {
    if (type === "tile") return tileOf(vis, data);
    const target = vis.path ? at(data, vis.path) : undefined;
    const items = Array.isArray(target) ? target : firstList(data) || [];
    if (!items.length) return null;
    return type === "bar" ? barOf(vis, items) : lineOf(vis, items);
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
