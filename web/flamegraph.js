// The flame graph of the sampled profile (d3-flame-graph, bundled at build time) with a filter by
// operation, a search box and zoom (click a frame; "Reset zoom"), plus the hot lines of the chosen
// operation. When allocations were sampled, the graph can weigh the allocating stacks by bytes
// allocated or still live, and tables list each operation's allocation sites and leak suspects.
// Used by the dashboard (data from /api/profile) and by the HTML report (data inlined).
// Expects the globals d3 and flamegraph.
(() => {
  'use strict';

  const ALL = '';

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
  const pct = (x) => (x * 100).toFixed(1) + ' %';
  const base = (path) => (path || '').split('/').pop();
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = Number(n) || 0, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
    return (u === 0 ? String(v) : v.toFixed(1)) + ' ' + units[u];
  }
  // What the graph weighs: CPU samples, or the allocating stacks by bytes allocated or still live.
  const WEIGHTS = { cpu: 'CPU samples', alloc: 'bytes allocated', live: 'bytes live at the end' };
  function weightedStacks(profile, weight) {
    if (weight === 'cpu') return profile.stacks;
    const stacks = profile.alloc_stacks || [];
    return weight === 'live' ? stacks.map((st) => ({ ops: st.ops, frames: st.frames, value: st.live })) : stacks;
  }

  // A tree {name, value, children} from the stacks: open operations ("operation:NAME") are the
  // root frames, then the code from the outermost frame in. With an operation chosen, only the
  // stacks that ran inside it, rooted at it.
  function buildTree(profile, operation, weight = 'cpu') {
    const root = { name: operation ? 'operation:' + operation : (weight === 'cpu' ? 'all samples' : WEIGHTS[weight]), value: 0, children: [] };
    const index = new Map();  // node -> Map(name -> child)
    const child = (node, name) => {
      let kids = index.get(node);
      if (!kids) { kids = new Map(); index.set(node, kids); }
      let c = kids.get(name);
      if (!c) { c = { name, value: 0, children: [] }; kids.set(name, c); node.children.push(c); }
      return c;
    };
    for (const st of weightedStacks(profile, weight)) {
      if (!st.value) continue;
      let names = st.ops.map((o) => 'operation:' + o);
      if (operation) {
        const at = st.ops.indexOf(operation);
        if (at < 0) continue;
        names = names.slice(at + 1);
      }
      names = names.concat(st.frames.map((f) => profile.frames[f]));
      root.value += st.value;
      let node = root;
      for (const name of names) { node = child(node, name); node.value += st.value; }
    }
    return root;
  }

  // A table of allocation sites: function, file:line, estimated bytes, share.
  function siteTable(cls, bytesHeading) {
    return el('table', { class: 'data ' + cls },
      el('thead', null, el('tr', null, el('th', { text: 'Function' }), el('th', { text: 'Line' }),
        el('th', { class: 'num', text: bytesHeading }), el('th', { class: 'num', text: 'Share' }))),
      el('tbody'));
  }

  // options.allocationTables = false: the page lists the allocation sites itself (the HTML report).
  function mount(container, initial, options = {}) {
    container.replaceChildren();
    const select = el('select', { 'aria-label': 'operation', class: 'flame-operation' });
    const weightSelect = el('select', { 'aria-label': 'weight', class: 'flame-weight' });
    const weightLabel = el('label', null, 'Weight ', weightSelect);
    const search = el('input', { type: 'search', placeholder: 'search functions', 'aria-label': 'search', class: 'flame-search' });
    const reset = el('button', { type: 'button', class: 'flame-reset', text: 'Reset zoom' });
    const matches = el('span', { class: 'flame-matches hint' });
    const info = el('p', { class: 'hint flame-info' });
    const graph = el('div', { class: 'flame-graph' });
    const details = el('p', { class: 'flame-details hint' });
    const hotTitle = el('h3', { text: 'Hot lines' });
    const hot = el('table', { class: 'data flame-hot-lines' },
      el('thead', null, el('tr', null, el('th', { text: 'Function' }), el('th', { text: 'Line' }),
        el('th', { class: 'num', text: 'Samples' }), el('th', { class: 'num', text: 'Share' }))),
      el('tbody'));
    const allocTitle = el('h3', { text: 'Allocation sites' });
    const allocTable = siteTable('flame-alloc-sites', 'Sampled bytes');
    const liveTitle = el('h3', { text: 'Live at the end (leak suspects)' });
    const liveTable = siteTable('flame-live-sites', 'Live bytes');
    const showAllocTables = options.allocationTables !== false;
    container.append(
      el('div', { class: 'control-row' }, el('label', null, 'Operation ', select), weightLabel, el('label', null, 'Search ', search), reset, matches),
      info, graph, details, hotTitle, el('div', { class: 'table-wrap' }, hot),
      allocTitle, el('div', { class: 'table-wrap' }, allocTable), liveTitle, el('div', { class: 'table-wrap' }, liveTable));

    let profile = initial;
    let chosen = ALL;
    let weight = profile.stacks.length || !(profile.alloc_stacks || []).length ? 'cpu' : 'alloc';
    let chart = null;
    let signature = '';

    function renderSites(table, title, key, total) {
      const body = table.querySelector('tbody');
      body.replaceChildren();
      const ops = showAllocTables ? (profile.allocations || []).filter((o) => chosen === ALL || o.name === chosen) : [];
      for (const op of ops) {
        const sites = op[key] || [];
        if (!sites.length) continue;
        if (chosen === ALL) body.append(el('tr', { class: 'group' }, el('td', { colspan: '4', text: `${op.name} (${bytes(op[total])})` })));
        for (const a of sites.slice(0, chosen === ALL ? 3 : 20))
          body.append(el('tr', null, el('td', { text: a.function }), el('td', { text: a.file ? `${base(a.file)}:${a.line}` : '–', title: a.file }),
            el('td', { class: 'num', text: bytes(a.bytes) }), el('td', { class: 'num', text: pct(a.share) })));
      }
      table.hidden = !body.children.length;
      title.hidden = table.hidden;
    }

    function renderWeights() {
      const kinds = ['cpu'];
      if ((profile.alloc_stacks || []).length) kinds.push('alloc', 'live');
      weightLabel.hidden = kinds.length < 2;
      const key = kinds.join(',');
      if (weightSelect.dataset.key !== key) {
        weightSelect.dataset.key = key;
        weightSelect.replaceChildren(...kinds.map((k) => el('option', { value: k, text: WEIGHTS[k] })));
      }
      if (!kinds.includes(weight)) weight = 'cpu';
      weightSelect.value = weight;
    }

    function renderHot() {
      const body = hot.querySelector('tbody');
      body.replaceChildren();
      const ops = profile.operations.filter((o) => chosen === ALL || o.name === chosen);
      for (const op of ops) {
        if (chosen === ALL) body.append(el('tr', { class: 'group' }, el('td', { colspan: '4', text: `${op.name} (${op.cpu_samples} samples)` })));
        for (const h of op.hot_lines.slice(0, chosen === ALL ? 3 : 20))
          body.append(el('tr', null, el('td', { text: h.function }), el('td', { text: h.file ? `${base(h.file)}:${h.line}` : '–', title: h.file }),
            el('td', { class: 'num', text: String(h.samples) }), el('td', { class: 'num', text: pct(h.share) })));
      }
      hot.hidden = !body.children.length;
      hotTitle.hidden = hot.hidden;
    }

    function renderOptions() {
      const names = [ALL, ...new Set(profile.operations.concat(profile.allocations || []).map((o) => o.name))];
      const key = names.join('\u0000');
      if (select.dataset.key === key) return;
      select.dataset.key = key;
      select.replaceChildren(...names.map((n) => el('option', { value: n, text: n === ALL ? 'all operations' : n })));
      select.value = names.includes(chosen) ? chosen : ALL;
    }

    function draw() {
      const s = profile.sampling;
      const sources = (s.sources || []).map((x) => `${x.name} at ${x.frequency_hz} Hz`).join(', ');
      renderWeights();
      const stacks = weightedStacks(profile, weight);
      if (weight !== 'cpu')
        info.textContent = `${s.alloc_samples} sampled allocations (one per ${bytes(s.alloc_interval_bytes)} allocated on average), ` +
          `weighted by the ${WEIGHTS[weight]} they stand for. Click a frame to zoom.`;
      else
        info.textContent = profile.stacks.length
          ? `${s.samples} samples (${sources || 'no sampler'}), ${s.dropped} dropped. Click a frame to zoom.`
          : (s.enabled ? 'No samples yet.' : 'Sampling is off: set sampling.enabled = true (CODEPROF_SAMPLING_ENABLED=1).');
      for (const u of s.unavailable || []) info.append(el('br'), `${u.what}: ${u.reason}`);
      renderOptions();
      renderHot();
      renderSites(allocTable, allocTitle, 'hot_allocations', 'alloc_sampled_bytes');
      renderSites(liveTable, liveTitle, 'live_at_end', 'live_sampled_bytes');
      const tree = buildTree(profile, chosen, weight);
      if (!stacks.length || !tree.value) { graph.replaceChildren(); chart = null; signature = ''; delete graph.dataset.total; return; }
      const sig = weight + ':' + chosen + ':' + tree.value;
      if (chart && sig === signature) return;
      signature = sig;
      const width = Math.max(320, graph.clientWidth || container.clientWidth || 960);
      if (!chart) {
        chart = flamegraph.default().width(width).cellHeight(18).transitionDuration(250).minFrameSize(2).sort(true)
          .selfValue(false)
          .setDetailsElement(details)
          .setSearchHandler((results, sum, total) => {
            matches.textContent = search.value ? `${results.length} frames, ${pct(total ? sum / total : 0)} of the ${weight === 'cpu' ? 'samples' : WEIGHTS[weight]}` : '';
          });
        graph.replaceChildren();
        d3.select(graph).datum(tree).call(chart);
      } else {
        chart.update(tree);
      }
      if (search.value) chart.search(search.value);
      graph.dataset.total = String(tree.value);
    }

    select.addEventListener('change', () => { chosen = select.value; signature = ''; if (chart) chart.resetZoom(); draw(); });
    weightSelect.addEventListener('change', () => { weight = weightSelect.value; signature = ''; if (chart) chart.resetZoom(); draw(); });
    search.addEventListener('input', () => { if (!chart) return; if (search.value) chart.search(search.value); else { chart.clear(); matches.textContent = ''; } });
    reset.addEventListener('click', () => { if (chart) chart.resetZoom(); });
    draw();
    return {
      update(next) { profile = next; draw(); },
      choose(name) { select.value = name; select.dispatchEvent(new Event('change')); },
      weigh(kind) { weightSelect.value = kind; weightSelect.dispatchEvent(new Event('change')); },
    };
  }

  window.codeprofFlameGraph = { mount, buildTree };
})();
