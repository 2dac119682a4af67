// codeprof dashboard page: renders /api/state, follows /api/events, drives /api/config and
// /api/reset (docs/HTTP_API.md). Plain browser JavaScript, no build step; uPlot is global.
(() => {
  'use strict';

  const $ = (sel) => document.querySelector(sel);
  const REQUEST_HEADER = { 'X-Codeprof-Request': '1' };

  const view = {
    state: null,
    config: null,
    sort: { key: 'total_s', dir: -1 },
    seriesOperation: '',
    seriesMetric: '',
    charts: new Map(),  // chart id -> { plot, signature }
    readOnly: false,
  };

  // ---------------------------------------------------------------- formatting
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    const a = Math.abs(s);
    if (a === 0) return '0';
    if (a < 1e-6) return (s * 1e9).toFixed(0) + ' ns';
    if (a < 1e-3) return (s * 1e6).toFixed(1) + ' µs';
    if (a < 1) return (s * 1e3).toFixed(2) + ' ms';
    if (a < 120) return s.toFixed(2) + ' s';
    return fmtUptime(s);
  }
  function fmtUptime(s) {
    if (!isFinite(s)) return '–';
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min ${sec} s`;
    return `${sec} s`;
  }
  function fmtBytes(b) {
    if (b === null || b === undefined || !isFinite(b)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, v = Math.abs(b);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (b < 0 ? '-' : '') + (i ? v.toFixed(1) : v.toFixed(0)) + ' ' + units[i];
  }
  const fmtCount = (n) => (n === null || n === undefined) ? '–' : Number(n).toLocaleString('en-US');
  const fmtShare = (x) => (isFinite(x) ? (x * 100).toFixed(1) + ' %' : '–');
  function fmtValue(value, unit) {
    switch (unit) {
      case 's': return fmtDuration(value);
      case 'bytes': return fmtBytes(value);
      case 'bytes_per_second': return fmtBytes(value) + '/s';
      case 'percent': return Number(value).toFixed(1) + ' %';
      case 'ratio': return Number(value).toFixed(2);
      default: return Number.isInteger(value) ? fmtCount(value) : Number(value).toPrecision(4);
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function setMessage(text, ok) {
    const m = $('#control-message');
    m.textContent = text;
    m.className = 'message ' + (ok ? 'ok' : 'error');
  }

  // ---------------------------------------------------------------- API
  async function getJson(path) {
    const res = await fetch(path, { cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }
  async function postJson(path, payload) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...REQUEST_HEADER },
      body: JSON.stringify(payload || {}),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }
  async function patchConfig(patch, what) {
    try {
      const config = await postJson('/api/config', patch);
      renderControls(config);
      setMessage(what + ': done', true);
    } catch (e) {
      setMessage(what + ': ' + e.message, false);
      refreshConfig();  // show what really holds
    }
  }
  async function refreshConfig() {
    try { renderControls(await getJson('/api/config')); } catch (e) { setMessage(e.message, false); }
  }

  // ---------------------------------------------------------------- controls
  function renderControls(config) {
    view.config = config;
    view.readOnly = config.read_only;
    $('#read-only-note').hidden = !config.read_only;
    const sw = $('#enabled-switch');
    sw.checked = config.enabled;
    sw.disabled = config.read_only || !config.enabled_key;
    $('#reset-button').disabled = config.read_only;
    $('#apply-thresholds').disabled = config.read_only;

    const body = $('#category-table tbody');
    const focused = document.activeElement;
    // Do not rebuild under the user's cursor while they type a threshold.
    if (focused && body.contains(focused) && focused.type === 'number') return;
    body.replaceChildren(...config.categories.map((c) => {
      const box = el('input', { type: 'checkbox', 'data-category': c.category, 'aria-label': 'record ' + c.category });
      box.checked = c.enabled;
      box.disabled = config.read_only || !c.enabled_key;
      box.addEventListener('change', () =>
        patchConfig({ [c.enabled_key]: box.checked }, `${c.category} ${box.checked ? 'on' : 'off'}`));
      const num = (value, key, kind) => {
        const input = el('input', { type: 'number', min: '0', step: 'any', 'data-key': key,
                                    'data-category': c.category, 'data-kind': kind,
                                    'aria-label': `${c.category} ${kind} threshold (s)` });
        input.value = String(value);
        input.dataset.original = String(value);
        input.disabled = config.read_only || !key;
        return input;
      };
      return el('tr', {},
        el('td', { text: c.category }),
        el('td', {}, box),
        el('td', {}, num(c.warning_s, c.warning_key, 'warning')),
        el('td', {}, num(c.critical_s, c.critical_key, 'critical')));
    }));
  }

  function collectThresholdPatch() {
    const patch = {};
    for (const input of document.querySelectorAll('#category-table input[type="number"]')) {
      if (input.value === input.dataset.original || !input.dataset.key) continue;
      const v = Number(input.value);
      if (input.value.trim() === '' || !isFinite(v)) throw new Error(`${input.getAttribute('aria-label')}: not a number`);
      patch[input.dataset.key] = v;
    }
    return patch;
  }

  function wireControls() {
    $('#enabled-switch').addEventListener('change', (e) => {
      if (view.config) patchConfig({ [view.config.enabled_key]: e.target.checked },
                                   e.target.checked ? 'profiling enabled' : 'profiling disabled');
    });
    $('#apply-thresholds').addEventListener('click', () => {
      let patch;
      try { patch = collectThresholdPatch(); } catch (e) { setMessage(e.message, false); return; }
      if (Object.keys(patch).length === 0) { setMessage('thresholds unchanged', true); return; }
      document.activeElement && document.activeElement.blur();
      patchConfig(patch, 'thresholds');
    });
    $('#reset-button').addEventListener('click', async () => {
      try {
        await postJson('/api/reset', {});
        setMessage('statistics reset', true);
      } catch (e) { setMessage('reset: ' + e.message, false); }
    });
    $('#category-filter').addEventListener('change', () => renderOperations());
    $('#name-filter').addEventListener('input', () => renderOperations());
    $('#series-operation').addEventListener('change', (e) => {
      view.seriesOperation = e.target.value;
      refreshOperationChart();
    });
    $('#series-metric').addEventListener('change', (e) => {
      view.seriesMetric = e.target.value;
      if (view.state) renderCustomMetric(view.state.custom_metrics || []);
    });
    for (const th of document.querySelectorAll('#operations-table th[data-key]')) {
      th.addEventListener('click', () => {
        const key = th.dataset.key;
        view.sort = { key, dir: view.sort.key === key ? -view.sort.dir : (key === 'name' || key === 'category' ? 1 : -1) };
        renderOperations();
      });
    }
    window.addEventListener('resize', () => {
      for (const [, chart] of view.charts) {
        if (chart.plot) chart.plot.setSize(chartSize(chart.container));
      }
    });
  }

  // ---------------------------------------------------------------- status
  function renderStatus(status) {
    const pill = $('#state-pill');
    const stateName = status.read_only ? 'read-only' : (status.enabled ? 'recording' : 'paused');
    pill.dataset.state = stateName;
    pill.textContent = stateName;
    // After a reset the statistics (and the uptime) start later than the charts' time axis, which
    // counts from the start of the run: say where they start.
    const since = status.statistics_since_s || 0;
    $('#uptime').textContent = fmtUptime(status.uptime_s) + (since > 0 ? ` (since t = ${fmtUptime(since)})` : '');
    $('#events').textContent = fmtCount(status.events_recorded);
    $('#dropped').textContent = fmtCount(status.events_dropped);
    $('#op-count').textContent = fmtCount(status.operation_count);
    $('#thread-count').textContent = fmtCount(status.thread_count);
    $('#source').textContent = [status.job_name ? 'job ' + status.job_name : '',
      status.rank >= 0 ? 'rank ' + status.rank : '', status.source, status.source_path, status.host,
      status.pid ? 'pid ' + status.pid : '']
      .filter(Boolean).join(' · ');
    $('#version').textContent = status.version || '';
    if (!view.readOnly && status.read_only) view.readOnly = true;

    const facts = [
      ['command', status.command || '–'],
      ['job', status.job_name || '–'],
      ['rank', status.rank >= 0 ? `${status.rank} of ${status.world_size}` : '–'],
      ['local rank', status.local_rank >= 0 ? String(status.local_rank) : '–'],
      ['events (total)', fmtCount(status.events_recorded_total)],
      ['dropped (total)', fmtCount(status.events_dropped_total)],
      ['trace events over budget', fmtCount(status.trace_events_dropped)],
      ['hardware threads', fmtCount(status.hardware_threads)],
      ['GPUs', status.gpus.length ? status.gpus.map((g) => `${g.index}: ${g.name} (${fmtBytes(g.memory_total_bytes)})`).join(', ') : 'none'],
      // The program's own facts about the run (Profiler::set_metadata), e.g. batch_size.
      ...Object.entries(status.metadata || {}).filter(([k]) => k !== 'wall_since_ns').sort(([a], [b]) => (a < b ? -1 : 1)),
    ];
    $('#run-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));

    renderAlerts(status.alerts || [], status.alert_delivery);

    const list = $('#unavailable-list');
    if (!status.unavailable.length) list.replaceChildren(el('li', { text: 'All probes available.' }));
    else list.replaceChildren(...status.unavailable.map((u) =>
      el('li', { 'data-probe': u.what }, el('strong', { text: u.what }), u.reason)));

    // Category switches follow the run (another client or the program may change them).
    if (view.config) {
      for (const box of document.querySelectorAll('#category-table input[type="checkbox"]')) {
        const on = status.categories[box.dataset.category];
        if (on !== undefined && document.activeElement !== box) box.checked = on;
      }
      const sw = $('#enabled-switch');
      if (document.activeElement !== sw) sw.checked = status.enabled;
    }
  }

  function renderInconclusive(items) {
    const list = $('#inconclusive-list');
    if (!items || !items.length) list.replaceChildren(el('li', { text: 'Every check had what it needs.' }));
    else list.replaceChildren(...items.map((i) =>
      el('li', { 'data-check': i.check }, el('strong', { text: i.check }), `needs ${i.needs}; had ${i.had}`)));
  }

  // The profiler's own alert rules (docs/ALERTS.md): firing first, then pending, then resolved.
  function renderAlerts(alerts, delivery) {
    const items = alerts.map((a) => el('li', { class: 'alert', 'data-state': a.state, 'data-alert': a.name },
      el('strong', { text: `${a.name} ${a.state}` }), ' ', a.summary,
      a.source ? el('span', { class: 'hint', text: ` (threshold: ${a.source})` }) : null));
    if (!items.length) items.push(el('li', { text: 'No alert.' }));
    if (delivery && delivery.target) {
      items.push(el('li', { class: 'hint', text: `webhook ${delivery.target}: ${fmtCount(delivery.sent)} sent, ` +
        `${fmtCount(delivery.failed)} failed, ${fmtCount(delivery.dropped)} dropped` +
        (delivery.last_error ? ` (last error: ${delivery.last_error})` : '') }));
    }
    $('#alert-list').replaceChildren(...items);
  }

  function renderClassification(cls, trends) {
    $('#classification-summary').textContent = cls.summary || '–';
    const facts = [
      ['input pipeline', `${cls.input.level} (${fmtShare(cls.input.input_share)} of ${fmtCount(cls.input.steps)} steps)`],
      ['GPU', cls.gpu.available ? `idle ${fmtShare(cls.gpu.idle_share)}, mean utilisation ${cls.gpu.mean_utilization.toFixed(1)} %` : 'no GPU data'],
      ['CPU efficiency', cls.cpu.mean_efficiency >= 0 ? fmtShare(cls.cpu.mean_efficiency) : 'unknown (CPU probes off)'],
      ['CPU contention', cls.cpu.contention_suspected ? 'suspected' : 'no'],
    ];
    $('#classification-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    const list = $('#trend-list');
    if (!trends.length) list.replaceChildren(el('li', { text: 'No trends detected.' }));
    else list.replaceChildren(...trends.map((t) =>
      el('li', {}, el('strong', { text: t.kind }), t.description)));
  }

  // ---------------------------------------------------------------- tables
  function renderOperations() {
    const state = view.state;
    if (!state) return;
    const ops = state.operations;

    // Category filter: the categories present, keeping the user's choice.
    const filter = $('#category-filter');
    const present = [...new Set(ops.map((o) => o.category))].sort();
    const current = filter.value;
    const wanted = ['', ...present];
    if (current && !wanted.includes(current)) wanted.push(current);
    if ([...filter.options].map((o) => o.value).join('|') !== wanted.join('|')) {
      filter.replaceChildren(...wanted.map((c) => el('option', { value: c, text: c || 'all' })));
      filter.value = current;
    }

    const text = $('#name-filter').value.trim().toLowerCase();
    const { key, dir } = view.sort;
    const rows = ops
      .filter((o) => (!filter.value || o.category === filter.value) && (!text || o.name.toLowerCase().includes(text)))
      .sort((a, b) => {
        const x = a[key], y = b[key];
        if (typeof x === 'string') return dir * x.localeCompare(y);
        return dir * (x - y);
      });
    for (const th of document.querySelectorAll('#operations-table th[data-key]')) {
      if (th.dataset.key === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    $('#operations-table tbody').replaceChildren(...rows.map((o) => el('tr', { 'data-op': o.name, 'data-category': o.category },
      el('td', { text: o.name, title: o.file ? `${o.file}:${o.line}` : null }),
      el('td', { text: o.category }),
      el('td', { class: 'num', 'data-col': 'count', text: fmtCount(o.count) }),
      el('td', { class: 'num', text: fmtDuration(o.total_s) }),
      el('td', { class: 'num', text: fmtDuration(o.self_s) }),
      el('td', { class: 'num', text: fmtDuration(o.mean_s) }),
      el('td', { class: 'num', text: fmtDuration(o.p50_s) }),
      el('td', { class: 'num', text: fmtDuration(o.p95_s) }),
      el('td', { class: 'num', text: fmtDuration(o.p99_s) }),
      el('td', { class: 'num', text: fmtDuration(o.max_s) }),
      el('td', { class: 'num', text: fmtShare(o.share_of_wall) }))));
    $('#operations-empty').hidden = rows.length > 0;

    // The operation chart's choices.
    const select = $('#series-operation');
    const names = ops.map((o) => o.name).sort();
    if (view.seriesOperation && !names.includes(view.seriesOperation)) view.seriesOperation = '';  // after a reset
    if (!view.seriesOperation && ops.length) {
      view.seriesOperation = [...ops].sort((a, b) => b.total_s - a.total_s)[0].name;
    }
    if ([...select.options].map((o) => o.value).join('|') !== names.join('|')) {
      select.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
    }
    select.value = view.seriesOperation;
  }

  function renderBottlenecks(list) {
    $('#bottlenecks-table tbody').replaceChildren(...list.map((b) => {
      const prio = 'prio-' + b.optimization_priority;
      return el('tr', { class: prio, 'data-op': b.operation },
        el('td', {}, el('span', { class: 'badge ' + prio, text: b.optimization_priority })),
        el('td', { text: b.operation }),
        el('td', { text: b.type }),
        el('td', { text: b.severity }),
        el('td', { class: 'num', text: fmtDuration(b.avg_duration) }),
        el('td', { class: 'num', text: fmtDuration(b.p95_duration) }),
        el('td', { class: 'num', text: fmtCount(b.calls) }),
        el('td', { class: 'num', text: fmtShare(b.share_of_wall) }),
        el('td', { class: 'wrap', text: b.reason }));
    }));
    $('#bottlenecks-empty').hidden = list.length > 0;
  }

  function renderRecommendations(list) {
    $('#recommendation-list').replaceChildren(...list.map((r) => {
      const evidence = r.evidence.map((e) =>
        `${e.operation ? e.operation + ' ' : ''}${e.metric} = ${fmtValue(e.value, e.unit)}`).join('; ');
      return el('li', { 'data-id': r.id },
        el('div', {}, el('span', { class: 'badge prio-' + r.priority, text: r.priority }), ' ',
           el('span', { class: 'title', text: r.title }), ' ', el('span', { class: 'hint', text: `(${r.type})` })),
        el('p', { class: 'evidence' }, el('span', { class: 'label', text: 'evidence' }), r.evidence_text || evidence),
        el('p', { class: 'action' }, el('span', { class: 'label', text: 'action' }), r.action));
    }));
    $('#recommendations-empty').hidden = list.length > 0;
  }

  // ---------------------------------------------------------------- charts
  // Which sampled series go on which chart (names come from the system sampler).
  const CHARTS = {
    cpu: { test: (s) => s.unit === 'percent' && /cpu/.test(s.name), unit: 'percent', probe: /cpu/ },
    memory: { test: (s) => s.unit === 'bytes' && /rss|resident/.test(s.name), unit: 'bytes', probe: /rss|memory/ },
    gpu_util: { test: (s) => /^gpu/.test(s.name) && s.unit === 'percent' && /util/.test(s.name), unit: 'percent', probe: /gpu|nvml|cuda/ },
    gpu_memory: { test: (s) => /^gpu/.test(s.name) && s.unit === 'bytes' && /mem/.test(s.name), unit: 'bytes', probe: /gpu|nvml|cuda/ },
    io: { test: (s) => s.unit === 'bytes_per_second' && /io|read|write|disk/.test(s.name), unit: 'bytes_per_second', probe: /io/ },
  };
  const COLOURS = ['#2f6fdf', '#c62828', '#2e7d32', '#b26a00', '#6a1b9a', '#00838f', '#5d4037', '#ad1457'];

  // Axis ticks: short labels so they fit the axis (2 significant digits at most).
  function fmtTick(value, unit) {
    if (unit === 's') {
      const a = Math.abs(value);
      if (a === 0) return '0';
      if (a < 1e-3) return +(value * 1e6).toPrecision(2) + ' µs';
      if (a < 1) return +(value * 1e3).toPrecision(3) + ' ms';
      return +value.toPrecision(3) + ' s';
    }
    if (unit === 'bytes' || unit === 'bytes_per_second') {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0, v = Math.abs(value);
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return (value < 0 ? '-' : '') + +v.toPrecision(3) + ' ' + units[i] + (unit === 'bytes' ? '' : '/s');
    }
    if (unit === 'percent') return +value.toPrecision(3) + ' %';
    return String(+value.toPrecision(3));
  }

  function chartSize(container) {
    const width = Math.max(260, container.clientWidth || 380);
    return { width, height: 200 };
  }

  // Charts follow their container's width also when it changes without a window resize: the
  // vertical scrollbar that appears as the page fills takes its width from every chart.
  const chartResizer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver((entries) => {
    for (const entry of entries) {
      for (const [, chart] of view.charts) {
        if (chart.container !== entry.target || !chart.plot) continue;
        const size = chartSize(chart.container);
        if (size.width !== chart.plot.width) chart.plot.setSize(size);
      }
    }
  });

  function showNoData(id, message) {
    const figure = document.querySelector(`.chart[data-chart="${id}"]`);
    const container = figure.querySelector('.plot');
    const old = view.charts.get(id);
    if (old && old.plot) old.plot.destroy();
    view.charts.set(id, { plot: null, signature: 'none', container });
    container.replaceChildren(el('div', { class: 'no-data', text: message }));
  }

  // data: [xs, ys1, ys2, ...]; labels: one per y series.
  function drawChart(id, labels, unit, data) {
    const figure = document.querySelector(`.chart[data-chart="${id}"]`);
    const container = figure.querySelector('.plot');
    const signature = labels.join('|') + '/' + unit;
    let chart = view.charts.get(id);
    if (!chart || chart.signature !== signature || !chart.plot) {
      if (chart && chart.plot) chart.plot.destroy();
      container.replaceChildren();
      const opts = {
        ...chartSize(container),
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [
          { label: 's', values: (u, ticks) => ticks.map((t) => String(+t.toFixed(2))) },
          { size: 78, values: (u, ticks) => ticks.map((t) => fmtTick(t, unit)) },
        ],
        series: [{ label: 't (s)', value: (u, v) => (v === null ? '–' : v.toFixed(1)) },
          ...labels.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5,
                                         value: (u, v) => (v === null || v === undefined ? '–' : fmtValue(v, unit)) }))],
      };
      chart = { plot: new uPlot(opts, data, container), signature, container };
      view.charts.set(id, chart);
      if (chartResizer) chartResizer.observe(container);
    } else {
      chart.plot.setData(data);
    }
  }

  function unavailableReason(pattern) {
    const u = (view.state ? view.state.status.unavailable : []).find((x) => pattern.test(x.what));
    return u ? `${u.what} unavailable: ${u.reason}` : null;
  }

  function renderTimelines(series) {
    for (const [id, def] of Object.entries(CHARTS)) {
      const chosen = series.filter((s) => def.test(s) && s.t_s.length > 0);
      if (!chosen.length) {
        showNoData(id, unavailableReason(def.probe) || 'No samples yet.');
        continue;
      }
      const data = chosen.length === 1
        ? [chosen[0].t_s, chosen[0].values]
        : uPlot.join(chosen.map((s) => [s.t_s, s.values]));
      drawChart(id, chosen.map((s) => s.name), def.unit, data);
    }
  }

  // The program's own metrics (docs/METRICS.md): pick one, see its series live (a counter's rate,
  // a value's mean, a gauge's setting per window).
  function renderCustomMetric(metrics) {
    const select = $('#series-metric');
    const names = metrics.map((m) => m.name);
    if (view.seriesMetric && !names.includes(view.seriesMetric)) view.seriesMetric = '';  // after a reset
    if (!view.seriesMetric && names.length) view.seriesMetric = names[0];
    if ([...select.options].map((o) => o.value).join('|') !== names.join('|')) {
      select.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
    }
    select.value = view.seriesMetric;
    const m = metrics.find((x) => x.name === view.seriesMetric);
    if (!m) {
      $('#metric-summary').textContent = '';
      showNoData('custom_metric', 'No metrics yet: profiler.add_counter / record_value / set_gauge.');
      return;
    }
    const unit = m.unit ? ' ' + m.unit : '';
    $('#metric-summary').textContent = m.kind === 'counter'
      ? `${fmtValue(m.last, '')}${unit} in all`
      : `last ${fmtValue(m.last, '')}${unit}, ${fmtCount(m.count)} calls`;
    if (!m.t_s.length) { showNoData('custom_metric', `No windows of ${m.name} yet.`); return; }
    drawChart('custom_metric', [m.series_label], '', [m.t_s, m.values]);
  }

  let seriesRequest = 0;
  async function refreshOperationChart() {
    const name = view.seriesOperation;
    if (!name) { showNoData('operation', 'No operations recorded yet.'); return; }
    const ticket = ++seriesRequest;
    try {
      const s = await getJson('/api/series?operation=' + encodeURIComponent(name));
      if (ticket !== seriesRequest) return;  // a newer request is under way
      if (!s.windows.length) { showNoData('operation', `No calls of ${name} yet.`); return; }
      const xs = s.windows.map((w) => w.t_s);
      drawChart('operation', ['mean', 'max'], 's', [xs, s.windows.map((w) => w.mean_s), s.windows.map((w) => w.max_s)]);
    } catch (e) {
      if (ticket === seriesRequest) showNoData('operation', e.message);
    }
  }

  // ---------------------------------------------------------------- flame graph (web/flamegraph.js)
  let flame = null, flameAt = 0, flameBusy = false;
  async function refreshFlameGraph() {
    if (flameBusy || Date.now() - flameAt < 3000) return;  // a profile can be large: every 3 s at most
    flameBusy = true;
    try {
      const profile = await getJson('/api/profile');
      if (flame) flame.update(profile);
      else flame = window.codeprofFlameGraph.mount($('#flame-root'), profile);
      flameAt = Date.now();
    } catch (e) {
      $('#flame-root').textContent = 'profile: ' + e.message;
    } finally {
      flameBusy = false;
    }
  }

  // ---------------------------------------------------------------- state
  function render(state) {
    view.state = state;
    renderStatus(state.status);
    renderOperations();
    renderBottlenecks(state.bottlenecks);
    renderRecommendations(state.recommendations);
    renderClassification(state.classification, state.trends);
    renderInconclusive(state.inconclusive);
    renderTimelines(state.timelines);
    renderCustomMetric(state.custom_metrics || []);
    refreshOperationChart();
    refreshFlameGraph();
    document.body.dataset.generation = String(state.status.generation || Date.now());
  }

  function connect() {
    const source = new EventSource('/api/events');
    source.addEventListener('update', (e) => {
      $('#connection').textContent = '';
      try { render(JSON.parse(e.data)); } catch (err) { $('#connection').textContent = 'bad update: ' + err.message; }
    });
    source.addEventListener('error', () => {
      // EventSource reconnects by itself (the server asks for 2 s).
      $('#connection').textContent = 'disconnected, retrying…';
      $('#state-pill').dataset.state = 'disconnected';
      $('#state-pill').textContent = 'disconnected';
    });
  }

  async function main() {
    wireControls();
    await refreshConfig();
    try { render(await getJson('/api/state')); } catch (e) { $('#connection').textContent = e.message; }
    connect();
  }

  main();
})();
