// Hand-written SVG charts: sparklines, line charts, bar charts and number tiles.
// Small on purpose: the console draws four kinds of chart and needs no library.
const Charts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

  function el(name, attributes, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(width, height, label) {
    return el("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label });
  }

  function scale(values, low, high) {
    const finite = values.filter((v) => Number.isFinite(v));
    const min = Math.min(0, ...finite);
    const max = Math.max(...finite, min + 1e-9);
    return (v) => high - ((v - min) / (max - min)) * (high - low);
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "–";
    if (!Number.isFinite(value)) return String(value);
    const abs = Math.abs(value);
    if (abs >= 1e6) return (value / 1e6).toFixed(1) + "M";
    if (abs >= 1e4) return (value / 1e3).toFixed(1) + "k";
    if (Number.isInteger(value)) return value.toLocaleString("en");
    return abs < 1 ? value.toFixed(3) : value.toFixed(1);
  }

  // A missing value (null) breaks the line; it resumes at the next value.
  function path(values, x, y) {
    const parts = [];
    let pen = "M";
    values.forEach((v, i) => {
      if (Number.isFinite(v)) {
        parts.push(`${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`);
        pen = "L";
      } else {
        pen = "M";
      }
    });
    return parts.join(" ");
  }

  // A 120x28 trend line; an empty series draws a flat baseline.
  function sparkline(values) {
    const width = 120, height = 28;
    const chart = svg(width, height, "trend");
    chart.setAttribute("width", width);
    chart.setAttribute("class", "chart sparkline");
    const data = values.length ? values : [0];
    const y = scale(data, 3, height - 3);
    const x = (i) => (data.length === 1 ? width / 2 : (i / (data.length - 1)) * (width - 4) + 2);
    chart.append(el("path", { d: path(data, x, y), class: "series", stroke: COLORS[0] }));
    return chart;
  }

  // labels along x, one line per named series.
  function lineChart(labels, series) {
    const names = Object.keys(series);
    const width = 360, left = 38, bottom = 18, legend = names.length > 1 ? 14 : 0;
    const height = 160 + legend;
    const chart = svg(width, height, "line chart");
    const all = Object.values(series).flat();
    const y = scale(all, 8 + legend, height - bottom);
    const x = (i) => (labels.length <= 1 ? left : left + (i / (labels.length - 1)) * (width - left - 8));
    for (const tick of [Math.max(...all.filter(Number.isFinite), 0), 0]) {
      chart.append(el("text", { x: 2, y: y(tick) + 3 }, formatNumber(tick)));
      chart.append(el("line", { x1: left, x2: width - 4, y1: y(tick), y2: y(tick), stroke: "#e2e8f0" }));
    }
    if (labels.length) {
      chart.append(el("text", { x: left, y: height - 4 }, labels[0]));
      chart.append(el("text", { x: width - 4, y: height - 4, "text-anchor": "end" }, labels[labels.length - 1]));
    }
    Object.entries(series).forEach(([name, values], n) => {
      const color = COLORS[n % COLORS.length];
      const line = el("path", { d: path(values, x, y), class: "series", stroke: color });
      line.append(el("title", {}, name));
      chart.append(line);
      if (legend) {
        const at = left + n * 110;
        chart.append(el("rect", { x: at, y: 4, width: 10, height: 3, fill: color }));
        chart.append(el("text", { x: at + 14, y: 9 }, name.split(".").pop()));
      }
    });
    return chart;
  }

  // One horizontal bar per label.
  function barChart(labels, values) {
    const row = 20, left = 110, width = 360;
    const height = Math.max(row * labels.length + 4, 24);
    const chart = svg(width, height, "bar chart");
    const max = Math.max(...values.filter(Number.isFinite), 1e-9);
    labels.forEach((label, i) => {
      const length = Number.isFinite(values[i]) ? (values[i] / max) * (width - left - 50) : 0;
      chart.append(el("text", { x: left - 6, y: i * row + 14, "text-anchor": "end" }, String(label || "(none)").slice(0, 18)));
      chart.append(el("rect", { x: left, y: i * row + 4, width: Math.max(length, 1), height: row - 6, class: "bar", rx: 2 }));
      chart.append(el("text", { x: left + length + 4, y: i * row + 14 }, formatNumber(values[i])));
    });
    return chart;
  }

  // A rate or share (a fraction, per the contract) is shown as a percentage.
  function tile(value, name) {
    const node = document.createElement("div");
    node.className = "tile";
    const fraction = /(rate|share)$/i.test(name || "") && Number.isFinite(value);
    node.textContent = fraction ? (value * 100).toFixed(1) + "%" : formatNumber(value);
    return node;
  }

  return { sparkline, lineChart, barChart, tile, formatNumber };
})();
