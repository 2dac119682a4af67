// codeprof job view: renders GET /api/job (the ranks of one distributed job, `codeprof serve
// --ranks`) every poll interval. Plain browser JavaScript, no build step.
(() => {
  'use strict';
  const $ = (sel) => document.querySelector(sel);

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
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    const a = Math.abs(s);
    if (a === 0) return '0';
    if (a < 1e-3) return (s * 1e6).toFixed(1) + ' µs';
    if (a < 1) return (s * 1e3).toFixed(2) + ' ms';
    return s.toFixed(2) + ' s';
  }
  const fmtShare = (x) => (x === null || x === undefined || !isFinite(x) ? '–' : (x * 100).toFixed(1) + ' %');
  const fmtCount = (n) => (n === null || n === undefined) ? '–' : Number(n).toLocaleString('en-US');

  function render(job) {
    $('#state-pill').dataset.state = 'recording';
    $('#state-pill').textContent = 'live';
    const names = [...new Set(job.ranks.map((r) => r.job_name).filter(Boolean))];
    $('#job-facts').textContent = [names.length ? 'job ' + names.join(', ') : '',
      `${job.ranks_reachable} of ${job.ranks_configured} ranks reachable`].filter(Boolean).join(' · ');
    $('#job-summary').textContent = job.classification.summary;
    const stragglers = job.stragglers.map((s) => el('li', { 'data-rank': String(s.rank) }, s.description));
    if (!stragglers.length) stragglers.push(el('li', { text: job.one_job ? 'None.' : job.note }));
    $('#straggler-list').replaceChildren(...stragglers);
    const alerts = job.alerts.map((a) => el('li', { class: 'alert', 'data-state': a.state, 'data-alert': a.name },
      el('strong', { text: `${a.name} ${a.state}` }), ' ', a.summary));
    if (!alerts.length) alerts.push(el('li', { text: 'No alert.' }));
    $('#job-alert-list').replaceChildren(...alerts);
    $('#step-heading').textContent = job.ranks.some((r) => r.per_step === false) ? 'Wall' : 'Mean step';
    const rows = job.ranks.map((r) => el('tr', { 'data-rank': r.rank !== undefined ? String(r.rank) : '' },
      el('td', { text: r.rank !== undefined && r.rank >= 0 ? String(r.rank) : '?' }),
      el('td', { text: r.host || '–' }),
      el('td', { text: r.reachable ? 'live' : `unreachable: ${r.error}` }),
      el('td', { text: fmtCount(r.steps) }),
      el('td', { text: fmtDuration(r.step_s) }),
      el('td', { text: fmtDuration(r.compute_s) }),
      el('td', { text: fmtDuration(r.collective_s) }),
      el('td', { text: r.compute_ratio === null ? '–' : r.compute_ratio.toFixed(2) + 'x' }),
      el('td', { text: fmtShare(r.input_share) }),
      el('td', { text: r.top_operation || '–' }),
      el('td', { text: (r.alerts || []).map((a) => a.name).join(', ') || '–' }),
      el('td', {}, el('a', { href: r.open_url, target: '_blank', rel: 'noopener noreferrer', text: 'dashboard' }))));
    $('#rank-table tbody').replaceChildren(...rows);
    document.body.dataset.generation = String(job.generated_unix_ns);
  }

  async function refresh() {
    try {
      const res = await fetch('/api/job', { cache: 'no-store' });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      $('#connection').textContent = '';
      render(body);
      return (body.poll_interval_s || 2) * 1000;
    } catch (e) {
      $('#connection').textContent = 'disconnected, retrying… ' + e.message;
      $('#state-pill').dataset.state = 'disconnected';
      $('#state-pill').textContent = 'disconnected';
      return 2000;
    }
  }

  async function loop() {
    const wait = await refresh();
    setTimeout(loop, wait);
  }
  loop();
})();
