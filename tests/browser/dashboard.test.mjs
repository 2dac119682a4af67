// Browser tests of the dashboard: Debian's chromium (headless, driven by playwright-core) against
// a real profiled process (dashboard_workload). Run by CTest (tests/browser/CMakeLists.txt):
//   CODEPROF_WORKLOAD     the dashboard_workload program
//   CODEPROF_NODE_MODULES node_modules holding playwright-core (npm ci of tests/browser/package-lock.json)
//   CODEPROF_ARTIFACTS    where screenshots and downloads go
//   CODEPROF_CHROMIUM     the browser (default /usr/bin/chromium)
// Exits 77 (CTest: skipped) when the browser or playwright-core is missing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

const workloadPath = process.env.CODEPROF_WORKLOAD;
const nodeModules = process.env.CODEPROF_NODE_MODULES;
const artifacts = process.env.CODEPROF_ARTIFACTS || path.join(tmpdir(), 'codeprof-browser-artifacts');
const chromiumPath = process.env.CODEPROF_CHROMIUM || '/usr/bin/chromium';

function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(77);
}
if (!workloadPath || !existsSync(workloadPath)) skip(`no workload program (CODEPROF_WORKLOAD=${workloadPath})`);
if (!existsSync(chromiumPath)) skip(`no browser at ${chromiumPath} (apt-get install chromium)`);
if (!nodeModules || !existsSync(path.join(nodeModules, 'playwright-core')))
  skip(`playwright-core not installed in ${nodeModules} (npm ci --prefix <dir> of tests/browser)`);

const { chromium } = createRequire(path.join(nodeModules, 'noop.js'))('playwright-core');
mkdirSync(artifacts, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts the workload and resolves with its dashboard URL.
function startWorkload() {
  const child = spawn(workloadPath, ['--seconds', '170'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('workload did not print its port within 20 s')), 20000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${m[1]}/` });
      }
    });
    child.on('exit', (code) => reject(new Error(`workload exited early with ${code}`)));
  });
}

// The count shown in the operations table for `name`, as a number (null: no row).
async function tableCount(page, name) {
  const cell = page.locator(`#operations-table tbody tr[data-op="${name}"] td[data-col="count"]`);
  if ((await cell.count()) === 0) return null;
  return Number((await cell.textContent()).replace(/,/g, ''));
}

// Resolves after the page has rendered `n` more server updates.
async function updates(page, n) {
  const start = Number(await page.evaluate(() => document.body.dataset.generation || 0));
  await page.waitForFunction((target) => Number(document.body.dataset.generation || 0) >= target, start + n,
                             { timeout: 15000, polling: 100 });
}

describe('dashboard in chromium', { concurrency: false }, () => {
  let workload, context, page, profileDir;
  const consoleErrors = [];

  before(async () => {
    workload = await startWorkload();
    profileDir = mkdtempSync(path.join(tmpdir(), 'codeprof-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1366, height: 768 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = context.pages()[0] || (await context.newPage());
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
    page.on('requestfailed', (req) => {
      // The event stream is cut when the page closes; anything else failing is a bug.
      if (!req.url().includes('/api/events')) consoleErrors.push(`request failed: ${req.url()}`);
    });
  });

  after(async () => {
    if (page) await page.screenshot({ path: path.join(artifacts, 'final.png'), fullPage: true }).catch(() => {});
    if (context) await context.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (workload) {
      workload.child.stdin.end();  // the workload stops when its input closes
      await new Promise((r) => { workload.child.on('exit', r); setTimeout(r, 5000); });
      workload.child.kill();
    }
  });

  test('page loads with live status, charts and no console error', async () => {
    await page.goto(workload.url);
    await page.waitForSelector('#operations-table tbody tr[data-op="load_batch"]', { timeout: 15000 });
    await updates(page, 2);
    assert.equal(await page.textContent('#state-pill'), 'recording');
    assert.ok(Number((await page.textContent('#events')).replace(/,/g, '')) > 0, 'events recorded');
    // uPlot drew the sampled CPU and memory series.
    await page.waitForSelector('.chart[data-chart="cpu"] canvas', { timeout: 15000 });
    await page.waitForSelector('.chart[data-chart="memory"] canvas', { timeout: 15000 });
    await page.waitForSelector('.chart[data-chart="operation"] canvas', { timeout: 15000 });
    // Nothing wider than a laptop screen.
    // Once the layout has settled (charts follow their containers when a scrollbar appears).
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, null, { timeout: 5000 })
      .catch(() => {});
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    // Name the elements that reach past the window, so a failure says where to look.
    const wide = overflow <= 0 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 6)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.classList.length ? '.' + [...e.classList].join('.') : ''}` +
                  ` (right ${Math.round(e.getBoundingClientRect().right)})`));
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the window; past its edge: ${wide.join(', ')}`);
    await page.screenshot({ path: path.join(artifacts, 'laptop-1366x768.png'), fullPage: true });
    assert.deepEqual(consoleErrors, []);
  });

  test('the program\'s own notes and facts reach the live page', async () => {
    await page.waitForSelector('#unavailable-list li[data-probe="multi_gpu"]', { timeout: 15000 });
    assert.match(await page.textContent('#unavailable-list li[data-probe="multi_gpu"]'), /2 or more CUDA devices/);
    const facts = await page.textContent('#run-facts');
    assert.ok(facts.includes('batch_size') && facts.includes('16'), `run facts: ${facts}`);
    assert.ok((await page.locator('#inconclusive-list li').count()) >= 1, 'the checks that could not conclude are listed');
  });

  test('a metric picked from the list shows its live chart', async () => {
    await page.waitForSelector('.chart[data-chart="custom_metric"] canvas', { timeout: 15000 });
    const names = await page.$$eval('#series-metric option', (options) => options.map((o) => o.value));
    assert.deepEqual(names, ['loss', 'pages_scored', 'queue_depth']);
    await page.selectOption('#series-metric', 'pages_scored');
    await page.waitForFunction(() => /pages in all/.test(document.querySelector('#metric-summary').textContent),
      null, { timeout: 10000 });
    // The chart's legend names the counter's rate.
    await page.waitForFunction(() => /pages\/s/.test(document.querySelector('.chart[data-chart="custom_metric"]').textContent),
      null, { timeout: 10000 });
    const before = Number((await page.textContent('#metric-summary')).replace(/[^0-9]/g, ''));
    await updates(page, 2);
    const after = Number((await page.textContent('#metric-summary')).replace(/[^0-9]/g, ''));
    assert.ok(after > before, `the counter grows live: ${before} then ${after}`);
  });

  test('operation table updates live while the workload runs', async () => {
    const first = await tableCount(page, 'load_batch');
    assert.ok(first > 0);
    await updates(page, 2);
    const later = await tableCount(page, 'load_batch');
    assert.ok(later > first, `load_batch count went from ${first} to ${later}`);
  });

  test('table sorts by a column and filters by category', async () => {
    await page.click('#operations-table th[data-key="count"]');
    const counts = await page.$$eval('#operations-table tbody td[data-col="count"]',
                                     (cells) => cells.map((c) => Number(c.textContent.replace(/,/g, ''))));
    assert.ok(counts.length >= 4, `rows: ${counts.length}`);
    assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'sorted by calls, descending');

    await page.selectOption('#category-filter', 'data_loading');
    const categories = await page.$$eval('#operations-table tbody tr', (rows) => rows.map((r) => r.dataset.category));
    assert.deepEqual(categories, ['data_loading']);
    await page.selectOption('#category-filter', '');
  });

  test('unchecking a category stops its counts from growing', async () => {
    await page.uncheck('#category-table input[type="checkbox"][data-category="preprocessing"]');
    await page.waitForFunction(() => document.querySelector('#control-message').textContent.includes('done'));
    await updates(page, 2);
    const frozen = await tableCount(page, 'tokenize');
    const loading = await tableCount(page, 'load_batch');
    await updates(page, 2);
    assert.equal(await tableCount(page, 'tokenize'), frozen, 'tokenize no longer counted');
    assert.ok((await tableCount(page, 'load_batch')) > loading, 'other categories still counted');
    assert.equal(await page.getAttribute('#category-table input[data-category="preprocessing"]', 'data-category'),
                 'preprocessing');
    assert.equal(await page.isChecked('#category-table input[data-category="preprocessing"]'), false);
    await page.check('#category-table input[type="checkbox"][data-category="preprocessing"]');
    await updates(page, 2);
    assert.ok((await tableCount(page, 'tokenize')) > frozen, 'counted again once re-enabled');
  });

  test('threshold inputs turn an operation into a high-priority bottleneck', async () => {
    // load_batch sleeps 3 ms a call: critical above 1 ms.
    await page.fill('input[data-category="data_loading"][data-kind="warning"]', '0.0005');
    await page.fill('input[data-category="data_loading"][data-kind="critical"]', '0.001');
    await page.click('#apply-thresholds');
    await page.waitForSelector('#bottlenecks-table tbody tr.prio-high[data-op="load_batch"]', { timeout: 15000 });
    const badge = await page.textContent('#bottlenecks-table tbody tr[data-op="load_batch"] .badge');
    assert.equal(badge, 'high');
    const colour = await page.$eval('#bottlenecks-table tbody tr[data-op="load_batch"] .badge',
                                    (b) => getComputedStyle(b).color);
    assert.equal(colour, 'rgb(198, 40, 40)');  // --high
    await page.waitForSelector('#recommendation-list li', { timeout: 15000 }).catch(() => {});
    await page.screenshot({ path: path.join(artifacts, 'bottlenecks.png'), fullPage: true });
  });

  test('export buttons download valid files', async () => {
    const download = async (selector) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
      const target = path.join(artifacts, file.suggestedFilename());
      await file.saveAs(target);
      return { name: file.suggestedFilename(), text: readFileSync(target, 'utf8') };
    };
    const report = await download('#export-json');
    assert.match(report.name, /\.json$/);
    const json = JSON.parse(report.text);
    assert.equal(json.schema_version, 1);
    const op = json.operations.find((o) => o.name === 'load_batch');
    assert.ok(op && op.count > 0, 'the report holds load_batch with its calls');

    const trace = await download('#export-chrome');
    const events = JSON.parse(trace.text);
    const list = Array.isArray(events) ? events : events.traceEvents;
    assert.ok(list.some((e) => e.name === 'forward'), 'the trace holds forward events');

    const csv = await download('#export-csv');
    assert.match(csv.text.split('\n')[0], /name/);
    assert.ok(csv.text.includes('tokenize'));
    assert.deepEqual(consoleErrors, []);
  });

  test('flame graph: filter by operation, search, zoom and hot lines', async () => {
    await page.waitForSelector('#flame-root .flame-graph svg rect', { timeout: 20000 });
    const total = Number(await page.getAttribute('#flame-root .flame-graph', 'data-total'));
    assert.ok(total > 0, 'the flame graph holds samples');
    // Filter by operation: the graph is rooted at it and holds fewer samples.
    await page.selectOption('#flame-root select.flame-operation', 'tokenize');
    await page.waitForFunction((all) => Number(document.querySelector('#flame-root .flame-graph').dataset.total) < all,
                               total, { timeout: 15000 });
    await page.waitForSelector('#flame-root g.frame[name="operation:tokenize"]', { timeout: 10000 });
    assert.ok((await page.locator('#flame-root table.flame-hot-lines tbody tr').count()) > 0, 'hot lines of tokenize');
    // Search marks the matching frames and says how much of the samples they hold.
    await page.fill('#flame-root input.flame-search', 'spin');
    await page.waitForFunction(() => /frames, .* of the samples/.test(document.querySelector('#flame-root .flame-matches').textContent),
                               null, { timeout: 10000 });
    // Zoom: click the widest frame under the root, then reset.
    const frames = page.locator('#flame-root .flame-graph svg g.frame');
    const before = await frames.count();
    await frames.nth(1).click();
    await page.waitForTimeout(400);  // the zoom transition
    await page.screenshot({ path: path.join(artifacts, 'flame-graph.png'), fullPage: true });
    await page.click('#flame-root button.flame-reset');
    assert.ok(before > 1, 'frames drawn');
    // A demangled C++ name runs to hundreds of characters without a space: it wraps, the page
    // keeps the window's width.
    const overflow = await page.evaluate(() => {
      const row = document.querySelector('#flame-root table.flame-hot-lines tbody tr:not(.group)');
      row.cells[0].textContent = 'std::__detail::_Executor<__gnu_cxx::__normal_iterator<char const*, std::__cxx11::basic_string<char>>>::_M_dfs'.repeat(6);
      row.cells[1].textContent = '/usr/include/c++/12/bits/' + 'very_long_header_name_'.repeat(8) + '.h:1234';
      return document.documentElement.scrollWidth - window.innerWidth;
    });
    assert.ok(overflow <= 0, `a long function name widens the page by ${overflow}px`);
    assert.deepEqual(consoleErrors, []);
  });

  test('allocation views: the planted site, the planted leak and the allocating stacks', async () => {
    // build_vocab allocates through the planted sites of tests/sampling/planted_allocations.cpp
    // (70 % of its bytes at hot_allocation) and keeps 64 KiB a step at leak_planted.
    await page.waitForSelector('#flame-root select.flame-operation option[value="build_vocab"]', { state: 'attached', timeout: 20000 });
    await page.selectOption('#flame-root select.flame-operation', 'build_vocab');
    await page.waitForSelector('#flame-root table.flame-alloc-sites tbody tr', { timeout: 15000 });
    const top = await page.$$eval('#flame-root table.flame-alloc-sites tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    assert.match(top[0], /hot_allocation/);
    assert.match(top[1], /^planted_allocations\.cpp:\d+$/);
    assert.match(top[2], /(KiB|MiB|GiB)$/);
    assert.ok(parseFloat(top[3]) > 40, `the planted site holds most of the bytes: ${top}`);
    await page.waitForSelector('#flame-root table.flame-live-sites tbody tr', { timeout: 15000 });
    const leak = await page.$$eval('#flame-root table.flame-live-sites tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    assert.match(leak[0], /leak_planted/);
    assert.match(leak[1], /^planted_allocations\.cpp:\d+$/);
    // Its long demangled name wraps: the share column stays inside the window.
    const shareRight = await page.$eval('#flame-root table.flame-live-sites tbody tr:first-child td:last-child',
                                        (td) => td.getBoundingClientRect().right);
    assert.ok(shareRight <= await page.evaluate(() => window.innerWidth), `share column ends at ${shareRight}px`);
    // The flame graph weighs the allocating stacks by bytes allocated, rooted at the operation.
    await page.selectOption('#flame-root select.flame-weight', 'alloc');
    await page.waitForSelector('#flame-root g.frame[name="operation:build_vocab"]', { timeout: 10000 });
    assert.ok(Number(await page.getAttribute('#flame-root .flame-graph', 'data-total')) > 0, 'bytes in the graph');
    assert.ok((await page.locator('#flame-root .flame-graph svg g.frame[name^="codeprof::test::hot_allocation"]').count()) > 0,
              'the planted function is a frame');
    await page.screenshot({ path: path.join(artifacts, 'allocations.png'), fullPage: true });
    await page.selectOption('#flame-root select.flame-weight', 'cpu');

    // The HTML report lists the same sites as tables and its flame graph weighs allocations too.
    const html = await page.evaluate(async () => (await fetch('/api/export/html')).text());
    const file = path.join(artifacts, 'report-with-allocations.html');
    writeFileSync(file, html);
    const report = await context.newPage();
    try {
      await report.goto('file://' + file);
      await report.waitForSelector('html[data-codeprof-rendered="yes"]', { timeout: 15000 });
      const rows = await report.$$eval('#allocations table.alloc-sites tbody tr', (trs) => trs.map((tr) => tr.textContent));
      assert.ok(rows.some((r) => /hot_allocation/.test(r) && /planted_allocations\.cpp:\d+/.test(r)), rows.join('\n'));
      const live = await report.$$eval('#allocations table.live-at-end tbody tr', (trs) => trs.map((tr) => tr.textContent));
      assert.ok(live.some((r) => /leak_planted/.test(r)), live.join('\n'));
      await report.selectOption('#flame-root select.flame-weight', 'live');
      await report.waitForSelector('#flame-root .flame-graph svg g.frame[name^="codeprof::test::leak_planted"]', { timeout: 10000 });
      assert.equal(await report.locator('#flame-root table.flame-alloc-sites tbody tr').count(), 0, 'listed once, by the report');
      assert.equal(await report.getAttribute('html', 'data-codeprof-error'), null);
    } finally {
      await report.close();
    }
    assert.deepEqual(consoleErrors, []);
  });

  test('reset empties the tables', async () => {
    await page.uncheck('#enabled-switch');  // pause first, or the workload refills them at once
    await page.waitForFunction(() => document.querySelector('#state-pill').textContent === 'paused',
                               null, { timeout: 15000 });
    await page.click('#reset-button');
    await page.waitForFunction(() => document.querySelectorAll('#operations-table tbody tr').length === 0,
                               null, { timeout: 15000 });
    await updates(page, 1);
    assert.equal(await page.locator('#operations-table tbody tr').count(), 0);
    assert.equal(await page.locator('#bottlenecks-table tbody tr').count(), 0);
    assert.equal(await page.isVisible('#operations-empty'), true);
    assert.equal((await page.textContent('#events')).trim(), '0');
    // The uptime now counts from the reset; it says where that is on the charts' time axis.
    assert.match(await page.textContent('#uptime'), /since t = /);
    await page.screenshot({ path: path.join(artifacts, 'after-reset.png'), fullPage: true });

    await page.check('#enabled-switch');
    await page.waitForSelector('#operations-table tbody tr[data-op="load_batch"]', { timeout: 15000 });
  });

  test('readable on a wide monitor', async () => {
    await page.setViewportSize({ width: 2560, height: 1440 });
    await updates(page, 2);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0);
    // The cards use the width: controls, run and exports side by side.
    const tops = await page.$$eval(['#controls-card', '#status-card', '#exports-card'].join(','),
                                   (cards) => cards.map((c) => Math.round(c.getBoundingClientRect().top)));
    assert.equal(new Set(tops).size, 1, `cards on one row: ${tops}`);
    await page.screenshot({ path: path.join(artifacts, 'wide-2560x1440.png'), fullPage: true });
    assert.deepEqual(consoleErrors, []);
  });
});
