
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (e) {
    root.setAttribute("data-codeprof-error", String(e && e.message ? e.message : e));
  });
  var SVG_NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f5fbf", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#ad1457",
                 "#558b2f", "#283593"];

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVG_NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, content, attrs) {
    var a = attrs || {};
    a.x = x; a.y = y;
    var node = svg("text", a, parent);
    node.textContent = content;
    return node;
  }
  function tooltip(node, content) { svg("title", {}, node).textContent = content; }

  function three(v) {
    var a = Math.abs(v);
    return v.toFixed(a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2);
  }
  function seconds(s) {
    if (s === null || !isFinite(s)) return "n/a";
    var a = Math.abs(s);
    if (a === 0) return "0 s";
    if (a < 1e-6) return three(s * 1e9) + " ns";
    if (a < 1e-3) return three(s * 1e6) + " us";
    if (a < 1) return three(s * 1e3) + " ms";
    return three(s) + " s";
  }
  function bytes(b) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(b) >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return i === 0 ? b.toFixed(0) + " B" : three(b) + " " + units[i];
  }
  function value(v, unit) {
    if (v === null || !isFinite(v)) return "n/a";
    if (unit === "bytes") return bytes(v);
    if (unit === "bytes_per_second") return bytes(v) + "/s";
    if (unit === "s") return seconds(v);
    if (unit === "percent") return v.toFixed(1) + " %";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return a >= 100 || v === Math.round(v) ? v.toFixed(0) : three(v);
  }

  // Round tick values from lo up to the first one at or above hi: steps of 1, 2, 2.5 or 5 times a
  // power of ten (of ten times a power of 1024 for bytes), about `count` of them.
  function ticks(lo, hi, count, unit) {
    var base = 1;
    if (unit === "bytes" || unit === "bytes_per_second") {
      while ((hi - lo) / base >= 1024) base *= 1024;
    }
    var raw = (hi - lo) / base / count, power = Math.pow(10, Math.floor(Math.log10(raw))), step = power;
    [1, 2, 2.5, 5, 10].some(function (m) { step = m * power; return step >= raw; });
    step *= base;
    var out = [];
    for (var i = Math.ceil(lo / step - 1e-9); out.length === 0 || out[out.length - 1] < hi - step * 1e-9; i++)
      out.push(i * step);
    return out;
  }

  // A line chart: lines = [{name, points: [[x, y], ...]}]; y null leaves a gap. A legend for several
  // lines goes under the plot, so it never hides a line.
  function lineChart(container, title, unit, lines) {
    var W = 820, L = 72, R = 34, T = 8, B = 26, plotH = 136;
    var legendRows = lines.length > 1 ? Math.ceil(lines.length / 4) : 0;
    var H = T + plotH + B + legendRows * 16;
    var xmin = Infinity, xmax = -Infinity, ymin = 0, ymax = -Infinity;
    lines.forEach(function (line) {
      line.points.forEach(function (p) {
        if (p[1] === null) return;
        xmin = Math.min(xmin, p[0]); xmax = Math.max(xmax, p[0]);
        ymin = Math.min(ymin, p[1]); ymax = Math.max(ymax, p[1]);
      });
    });
    var box = document.createElement("div");
    box.className = "chart";
    var heading = document.createElement("div");
    heading.className = "title";
    heading.textContent = title;
    box.appendChild(heading);
    container.appendChild(box);
    var chart = svg("svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title}, box);
    if (!isFinite(xmin)) { text(chart, L, T + plotH / 2, "no samples"); return chart; }
    if (xmax === xmin) xmax = xmin + 1;
    if (ymax <= ymin) ymax = ymin + 1;
    var yticks = ticks(ymin, ymax, 4, unit);
    ymin = Math.min(ymin, yticks[0]);
    ymax = yticks[yticks.length - 1];
    var bottom = T + plotH;
    var sx = function (x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
    var sy = function (y) { return bottom - (y - ymin) / (ymax - ymin) * plotH; };
    yticks.forEach(function (gy) {
      svg("line", {x1: L, x2: W - R, y1: sy(gy), y2: sy(gy), "class": "grid"}, chart);
      text(chart, L - 6, sy(gy) + 4, value(gy, unit), {"text-anchor": "end"});
    });
    ticks(xmin, xmax, 6, "s").forEach(function (gx) {
      if (gx > xmax + (xmax - xmin) * 1e-9) return;
      text(chart, sx(gx), bottom + 18, seconds(gx), {"text-anchor": "middle"});
    });
    lines.forEach(function (line, index) {
      var d = "", pen = "M";
      line.points.forEach(function (p) {
        if (p[1] === null) { pen = "M"; return; }
        d += pen + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1) + " ";
        pen = "L";
      });
      var color = PALETTE[index % PALETTE.length];
      var path = svg("path", {d: d, fill: "none", stroke: color, "stroke-width": 1.6, "class": "series"}, chart);
      var last = line.points.length ? line.points[line.points.length - 1][1] : null;
      tooltip(path, line.name + " (latest " + value(last, unit) + ")");
      if (lines.length > 1) {
        var lx = L + (index % 4) * 185, ly = bottom + B + 4 + Math.floor(index / 4) * 16;
        svg("rect", {x: lx, y: ly - 9, width: 10, height: 10, fill: color}, chart);
        text(chart, lx + 14, ly, line.name.length > 28 ? line.name.slice(0, 27) + "\u2026" : line.name,
             {"class": "label"});
      }
    });
    return chart;
  }

  // Horizontal bars of total time per operation: self time dark, time in callees light.
  function operationChart(container, ops) {
    if (!ops.length) { container.textContent = "No operations were recorded."; container.className = "empty"; return; }
    var W = 820, rowH = 22, labelW = 280, T = 6, H = T + ops.length * rowH + 6;
    var max = Math.max.apply(null, ops.map(function (o) { return o.total; })) || 1;
    var chart = svg("svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "time per operation"}, container);
    ops.forEach(function (op, i) {
      var y = T + i * rowH, span = W - labelW - 90;
      var name = op.name.length > 40 ? op.name.slice(0, 39) + "\u2026" : op.name;
      text(chart, labelW - 8, y + 15, name, {"text-anchor": "end", "class": "label"});
      var selfW = Math.max(1, op.self / max * span), totalW = Math.max(selfW, op.total / max * span);
      var bar = svg("rect", {x: labelW, y: y + 3, width: totalW.toFixed(1), height: rowH - 6, fill: "#9dbbe8",
                             "class": "bar"}, chart);
      svg("rect", {x: labelW, y: y + 3, width: selfW.toFixed(1), height: rowH - 6, fill: "#1f5fbf"}, chart);
      tooltip(bar, op.name + " [" + op.type + "]: total " + seconds(op.total) + ", self " + seconds(op.self) +
              ", " + op.count + " calls, mean " + seconds(op.mean));
      text(chart, labelW + totalW + 6, y + 15, seconds(op.total));
    });
  }

  var data = JSON.parse(document.getElementById("codeprof-data").textContent);

  operationChart(document.getElementById("operation-chart"), data.operations);

  var over = document.getElementById("operation-time-chart");
  if (data.operation_series.length) {
    lineChart(over, "Mean duration per time window", "s", data.operation_series);
  } else {
    over.textContent = "No per-window durations were kept.";
    over.className = "empty";
  }

  var timeline = document.getElementById("timeline-charts");
  if (data.timelines.length) {
    data.timelines.forEach(function (series) {
      var points = series.t.map(function (t, i) { return [t, series.values[i]]; });
      lineChart(timeline, series.name + " (" + series.unit + ")", series.unit, [{name: series.name, points: points}]);
    });
  } else {
    timeline.textContent = "No sampler series in this run (the sampler was off, or the input was a trace).";
    timeline.className = "empty";
  }

  var metricCharts = document.getElementById("custom-metric-charts");
  if (metricCharts && data.custom_metrics) {
    data.custom_metrics.forEach(function (m) {
      if (m.points.length > 1)
        lineChart(metricCharts, m.name + " (" + m.kind + (m.unit ? ", " + m.unit : "") + ")", "", [{name: m.name, points: m.points}]);
    });
  }

  root.setAttribute("data-codeprof-resources",
                    String(performance.getEntriesByType ? performance.getEntriesByType("resource").length : 0));
  root.setAttribute("data-codeprof-rendered", "yes");
})();
