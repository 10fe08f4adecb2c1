// The Rampart console: login, the live state (traffic seconds, active attacks and scans)
// kept from the API and the event stream, and the views drawn from it. Views are chosen by
// the URL fragment (#/overview, #/attacks, #/detection/ID, ...) so that links and reloads work.

import { ApiError, follow, get, token, whenUnauthorized } from './api.js';
import { TimeChart } from './chart.js';
import { card, confidence, h, segmented, shareBar, table } from './dom.js';
import * as f from './format.js';
import { covers } from './net.js';

/** Seconds of live traffic kept in the page (the chart shows up to this). */
const LIVE_KEEP = 900;
/** How long a new attack stays highlighted, in ms. */
const FRESH_MS = 60_000;
const STATUS_EVERY_MS = 5_000;
const HISTORY_PAGE = 25;
/** Ended attacks listed on the overview. */
const RECENT = 6;

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  status: null,
  rate: null, // records/s from the last two status polls
  prevStatus: null,
  live: [], // LiveSecond, oldest first
  prefixes: new Set(),
  metric: 'pps',
  scope: 'total',
  windowS: 600,
  avgS: 5,
  active: new Map(), // attack id → attack (state active)
  scans: new Map(), // scan id → scan (state active)
  fresh: new Map(), // detection id → when it was first seen live (ms)
  endedIds: new Set(), // detections seen ending in the event stream
  ended: [], // attacks that ended while the page was open, newest first
  exporterProblem: false,
  stream: null,
  timers: [],
};

/** The view on screen: `update(reason)` is called when live data changes. */
let current = { name: null, update() {} };
/** Timers of the view on screen, stopped when another view is shown. */
let viewTimers = [];
function every(ms, f) {
  viewTimers.push(setInterval(f, ms));
}

// ---------------------------------------------------------------------------------------
// Login

function showLogin(message) {
  stop();
  $('app').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('token-input').value = '';
  $('token-input').focus();
}

async function login(secret) {
  const button = $('login-button');
  button.disabled = true;
  try {
    const me = await get('whoami', {}, secret);
    token.set(secret);
    await start(me);
  } catch (e) {
    showLogin(e.status === 401 ? `The daemon refused this token: ${e.message}.` : `Cannot sign in: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function logout() {
  token.clear();
  showLogin(null);
}

whenUnauthorized((e) => {
  if (!token.get()) return;
  token.clear();
  showLogin(`Signed out: ${e.message}. Paste a valid token.`);
});

// ---------------------------------------------------------------------------------------
// Start and stop

async function start(me) {
  state.me = me;
  $('login').hidden = true;
  $('app').hidden = false;
  $('who-name').textContent = me.name || 'anonymous';
  $('who-role').textContent = me.role || '';
  state.live = [];
  state.prefixes = new Set();
  state.active = new Map();
  state.scans = new Map();
  state.ended = [];
  state.endedIds = new Set();
  await Promise.all([loadLive(), loadActive(), pollStatus()]).catch(showError);
  state.stream = follow({ traffic: onTraffic, detection: onDetection, lagged: onLagged }, onStreamState);
  state.timers.push(setInterval(() => pollStatus().catch(statusFailed), STATUS_EVERY_MS));
  state.timers.push(setInterval(tick, 1000));
  route();
}

function stop() {
  if (state.stream) state.stream.stop();
  state.stream = null;
  for (const t of state.timers.concat(viewTimers)) clearInterval(t);
  state.timers = [];
  viewTimers = [];
  current = { name: null, update() {} };
  $('view').replaceChildren();
  $('alerts').replaceChildren();
  clearTimeout(state.offlineTimer);
  $('offline').hidden = true;
}

async function loadLive() {
  const r = await get('traffic/live', { seconds: LIVE_KEEP });
  const fetched = r.seconds || [];
  // Seconds from before a daemon restart stay on the chart.
  const firstNew = fetched.length ? f.ms(fetched[0].t) : Infinity;
  const kept = state.live.filter((s) => f.ms(s.t) < firstNew);
  state.live = kept.concat(fetched).slice(-LIVE_KEEP);
  for (const s of fetched) notePrefixes(s);
}

async function loadActive() {
  const [a, s, e] = await Promise.all([
    get('attacks', { state: 'active', limit: 1000 }),
    get('detections', { kind: 'scan', state: 'active', limit: 1000 }),
    get('attacks', { state: 'ended', limit: RECENT }),
  ]);
  // Events may have overtaken the lists on the way: what they ended stays ended, and the
  // newer of two versions wins.
  const merge = (old, list) => new Map(list.filter((d) => !state.endedIds.has(d.id)).map((d) => {
    const o = old.get(d.id);
    return [d.id, o && f.ms(o.updated) > f.ms(d.updated) ? o : d];
  }));
  state.active = merge(state.active, a.attacks);
  state.scans = merge(state.scans, s.detections);
  state.ended = e.attacks;
  updateCounts();
}

// ---------------------------------------------------------------------------------------
// Live events

function onStreamState(s, why) {
  const dot = $('live-dot');
  dot.classList.toggle('on', s === 'live');
  dot.title = s === 'live' ? 'live: receiving events' : `reconnecting: ${why || ''}`;
  // A short drop is not worth a banner; a longer one is: the numbers stop moving.
  clearTimeout(state.offlineTimer);
  if (s === 'live') $('offline').hidden = true;
  else {
    state.offlineTimer = setTimeout(() => {
      $('offline-text').textContent = `Live updates lost (${why || 'no answer'}). Reconnecting… what is shown may be out of date.`;
      $('offline').hidden = false;
    }, 3000);
  }
  if (s === 'live') {
    // Fill what was missed before the stream was (re)connected.
    Promise.all([loadLive(), loadActive()]).then(() => current.update('all')).catch(showError);
  }
}

function onLagged() {
  Promise.all([loadLive(), loadActive()]).then(() => current.update('all')).catch(showError);
}

function notePrefixes(second) {
  for (const p of second.prefixes || []) state.prefixes.add(p.prefix);
}

function onTraffic(second) {
  const last = state.live[state.live.length - 1];
  if (last && f.ms(second.t) <= f.ms(last.t)) return;
  state.live.push(second);
  if (state.live.length > LIVE_KEEP) state.live.splice(0, state.live.length - LIVE_KEEP);
  const before = state.prefixes.size;
  notePrefixes(second);
  current.update(state.prefixes.size !== before ? 'prefixes' : 'traffic');
}

function onDetection({ phase, detection: d }) {
  const map = d.kind === 'ddos' ? state.active : d.kind === 'scan' ? state.scans : null;
  if (!map) {
    if (phase === 'started') state.fresh.set(d.id, Date.now());
    current.update('detection', d);
    return;
  }
  const isNew = !map.has(d.id) && phase !== 'ended';
  if (phase === 'ended' || d.state === 'ended') {
    map.delete(d.id);
    if (state.endedIds.size > 10_000) state.endedIds.clear();
    state.endedIds.add(d.id);
    if (d.kind === 'ddos') {
      state.ended = [d, ...state.ended.filter((x) => x.id !== d.id)].slice(0, RECENT);
    }
  } else {
    // A detection resumed after a restart is active again under its old id.
    state.endedIds.delete(d.id);
    map.set(d.id, d);
  }
  if (isNew && phase === 'started') {
    state.fresh.set(d.id, Date.now());
    // Attacks raise a toast; scans, more frequent and less urgent, only a highlighted row.
    if (d.kind === 'ddos') alertNew(d);
  }
  updateCounts();
  current.update('detection', d);
}

/** A toast for a new attack, with a link to it. */
function alertNew(d) {
  const title = `${f.vector(d.vector)} on ${d.target}`;
  const detail = `${d.direction} · ${f.pps(d.peak_pps)} · ${f.bps(d.peak_bps)}`;
  const toast = h('div', { class: ['toast', 'toast-attack'], role: 'alert' },
    h('div', { class: 'toast-body' },
      h('small', { class: 'toast-kicker', text: 'New attack' }),
      h('strong', { text: title }),
      h('span', { text: detail })),
    h('a', { href: `#/detection/${d.id}`, class: 'toast-link', text: 'Details' }),
    h('button', { type: 'button', class: 'ghost toast-close', 'aria-label': 'Dismiss', text: '×', onclick: () => toast.remove() }));
  $('alerts').prepend(toast);
  while ($('alerts').children.length > 3) $('alerts').lastChild.remove();
  setTimeout(() => toast.remove(), 20_000);
}

function updateCounts() {
  const a = state.active.size;
  const s = state.scans.size;
  $('nav-attacks').hidden = a === 0;
  $('nav-attacks').textContent = a;
  $('nav-scans').hidden = s === 0;
  $('nav-scans').textContent = s;
  document.title = a ? `(${a}) Rampart — under attack` : 'Rampart';
}

/** Once a second: durations tick, highlights fade. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) {
    const end = el.dataset.until ? f.ms(el.dataset.until) : now;
    el.textContent = f.duration((end - f.ms(el.dataset.since)) / 1000);
  }
  for (const [id, at] of state.fresh) {
    if (now - at > FRESH_MS) {
      state.fresh.delete(id);
      for (const el of document.querySelectorAll(`[data-fresh="${id}"]`)) el.classList.remove('fresh');
    }
  }
}

// ---------------------------------------------------------------------------------------
// Header status

function statusFailed(e) {
  if (e instanceof ApiError && e.status === 401) return;
  $('status-text').textContent = 'daemon unreachable';
  $('daemon-status').title = e.message;
  $('daemon-status').classList.add('down');
}

async function pollStatus() {
  const s = await get('status');
  $('daemon-status').classList.remove('down');
  $('daemon-status').title = '';
  const now = performance.now();
  if (state.prevStatus) {
    const dt = (now - state.prevStatus.at) / 1000;
    const dn = s.pipeline.processed_records - state.prevStatus.processed;
    state.rate = dt > 0 && dn >= 0 ? dn / dt : null;
  }
  state.prevStatus = { at: now, processed: s.pipeline.processed_records };
  state.status = s;
  const parts = [`v${s.version}`, `up ${f.duration(s.uptime_s)}`];
  if (state.rate != null) parts.push(f.per(state.rate, 'records/s'));
  $('status-text').textContent = parts.join(' · ');
  const dropped = s.pipeline.dropped_records;
  const d = $('status-dropped');
  d.hidden = !dropped;
  d.textContent = dropped ? `${f.count(dropped)} records dropped` : '';
  d.title = 'records dropped because the detection queue was full';
  if (current.name === 'exporters') current.update('status');
  else if (current.name === 'overview') loadExporterSummary().then(() => current.update('exporters')).catch(() => {});
}

// ---------------------------------------------------------------------------------------
// Errors

function showError(e) {
  if (e instanceof ApiError && e.status === 401) return;
  $('banner-text').textContent = `Error: ${e.message || e}`;
  $('banner').hidden = false;
}

function errorBox(e) {
  return h('div', { class: 'error-box', role: 'alert' },
    h('strong', { text: e.status ? `The daemon answered ${e.status}` : 'Request failed' }),
    h('span', { text: e.message || String(e) }));
}

// ---------------------------------------------------------------------------------------
// Routing

const VIEWS = { overview, attacks, scans, intrusions, traffic, exporters, detection };

function route() {
  if ($('app').hidden) return;
  const [, name = 'overview', arg] = (location.hash || '#/overview').split('/');
  const view = VIEWS[name] ? name : 'overview';
  for (const a of document.querySelectorAll('.tabs a')) {
    const on = a.dataset.view === view || (view === 'detection' && a.dataset.view === 'attacks');
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const t of viewTimers) clearInterval(t);
  viewTimers = [];
  const root = $('view');
  root.replaceChildren();
  root.dataset.view = view;
  current = { name: view, update() {} };
  const made = VIEWS[view](root, arg);
  if (made) current = { name: view, update: made };
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------------------------------
// Shared pieces

/** Live seconds as chart points for `scope` (total or one prefix) and `metric`, averaged
 * over the last `avg` seconds: flow exporters deliver in bursts, which a per-second line
 * shows as a comb. */
function livePoints(scope, metric, avg = 1) {
  const raw = rawPoints(scope, metric);
  if (avg <= 1) return raw;
  const out = [];
  let sumIn = 0;
  let sumOut = 0;
  raw.forEach((p, i) => {
    sumIn += p.in;
    sumOut += p.out;
    if (i >= avg) {
      sumIn -= raw[i - avg].in;
      sumOut -= raw[i - avg].out;
    }
    const n = Math.min(i + 1, avg);
    out.push({ t: p.t, in: sumIn / n, out: sumOut / n });
  });
  return out;
}

function rawPoints(scope, metric) {
  return state.live.map((s) => {
    const t = f.ms(s.t);
    if (scope === 'total') return { t, in: s.inbound[metric], out: s.outbound[metric] };
    let i = 0;
    let o = 0;
    for (const p of s.prefixes || []) {
      if (p.prefix !== scope) continue;
      if (p.direction === 'inbound') i = p[metric];
      else o = p[metric];
    }
    return { t, in: i, out: o };
  });
}

function legend(band = null) {
  return h('div', { class: 'legend' },
    h('span', { class: 'key key-in' }, 'Inbound'),
    h('span', { class: 'key key-out' }, 'Outbound'),
    band ? h('span', { class: 'key key-band', text: band }) : null);
}

function targetCell(d) {
  return h('span', { class: 'mono' }, d.target);
}

function directionBadge(dir) {
  return h('span', { class: ['dir', `dir-${dir}`], title: dir === 'outbound' ? 'one of ours is the source' : 'toward our network', text: dir === 'outbound' ? 'out' : 'in' });
}

function sourcesCell(d) {
  if (d.spoofed_sources) return h('span', { class: 'tag tag-warn', text: 'spoofed' });
  const list = d.direction === 'outbound' ? d.top_destinations || [] : d.top_sources || [];
  if (!list.length) return h('span', { class: 'muted', text: 'spread' });
  const shown = list.slice(0, 2).map((s) => h('span', { class: 'mono src' }, s.addr, h('small', { text: ` ${Math.round(s.share * 100)}%` })));
  const more = list.length > 2 ? h('span', { class: 'muted', text: ` +${list.length - 2}` }) : null;
  return h('span', { class: 'sources' }, shown, more);
}

function vectorCell(d) {
  const extra = (d.vectors || []).filter((v) => v !== d.vector);
  return h('span', { class: 'vector' },
    h('span', { class: 'vector-name', text: f.vector(d.vector) }),
    extra.length ? h('span', { class: 'tag', title: extra.map(f.vector).join(', '), text: `+${extra.length}` }) : null);
}

function sinceCell(d) {
  return h('span', { class: 'ticking', data: d.end ? { since: d.start, until: d.end } : { since: d.start }, text: f.duration(f.lasted(d.start, d.end)) });
}

function openDetection(d) {
  location.hash = `#/detection/${d.id}`;
}

function freshClass(d) {
  return state.fresh.has(d.id) ? 'fresh' : null;
}

/** Rows keep the id so that highlights can be removed without redrawing. */
function markFresh(wrap, rows) {
  const trs = wrap.querySelectorAll('tbody tr');
  rows.forEach((r, i) => {
    if (trs[i]) trs[i].dataset.fresh = r.id;
  });
}

const ATTACK_COLUMNS = [
  { label: 'Vector', cell: vectorCell },
  { label: 'Target', cell: targetCell },
  { label: 'Dir', cell: (d) => directionBadge(d.direction) },
  { label: 'Peak pps', num: true, cell: (d) => f.pps(d.peak_pps) },
  { label: 'Peak bps', num: true, cell: (d) => f.bps(d.peak_bps) },
  { label: 'Confidence', cell: (d) => confidence(d.confidence) },
  { label: 'Top sources', cell: sourcesCell },
  { label: 'Started', cell: (d) => f.when(d.start) },
  { label: 'Duration', num: true, cell: sinceCell },
];

function activeAttacksTable() {
  const rows = [...state.active.values()].sort((a, b) => b.peak_pps - a.peak_pps);
  const t = table(ATTACK_COLUMNS, rows, {
    onRow: openDetection,
    rowClass: (d) => ['attack-row', freshClass(d)],
    empty: 'No attack in progress.',
    label: 'active attacks',
  });
  if (!rows.length) t.classList.add('all-clear');
  markFresh(t, rows);
  return t;
}

const SCAN_COLUMNS = [
  { label: 'Source', cell: (d) => h('span', { class: 'mono', text: d.source }) },
  { label: 'Target', cell: targetCell },
  { label: 'Dir', cell: (d) => directionBadge(d.direction) },
  { label: 'Type', cell: (d) => `${d.scan_type} · ${d.protocol}` },
  { label: 'Ports', num: true, cell: (d) => f.count(d.ports) },
  { label: 'Hosts', num: true, cell: (d) => f.count(d.hosts) },
  { label: 'Probes', num: true, cell: (d) => f.count(d.probes) },
  { label: 'Confidence', cell: (d) => confidence(d.confidence) },
  { label: 'Started', cell: (d) => f.when(d.start) },
  { label: 'Duration', num: true, cell: (d) => h('span', { data: d.end ? { since: d.start, until: d.end } : { since: d.start }, text: f.duration(f.lasted(d.start, d.end)) }) },
];

/** The overview's narrower lists. */
const SCAN_COLUMNS_SHORT = [SCAN_COLUMNS[0], SCAN_COLUMNS[1],
  { label: 'Type', cell: (d) => `${d.scan_type} ${d.protocol}` },
  { label: 'Ports / hosts', num: true, cell: (d) => `${f.count(d.ports)} / ${f.count(d.hosts)}` },
  SCAN_COLUMNS[9]];
const RECENT_COLUMNS = [ATTACK_COLUMNS[0], ATTACK_COLUMNS[1],
  { label: 'Peak', num: true, cell: (d) => f.pps(d.peak_pps) },
  { label: 'Ended', cell: (d) => f.when(d.end) },
  { label: 'Lasted', num: true, cell: (d) => f.duration(f.lasted(d.start, d.end)) }];

function scansTable(rows, empty, columns = SCAN_COLUMNS) {
  const t = table(columns, rows, { onRow: openDetection, rowClass: (d) => [freshClass(d), 'scan-row'], empty, label: 'scans' });
  markFresh(t, rows);
  return t;
}

// ---------------------------------------------------------------------------------------
// Overview: now-numbers, the live chart, active attacks and scans

function overview(root) {
  const kpis = h('div', { class: 'kpis' });
  const scopeSelect = h('select', { id: 'scope', 'aria-label': 'Traffic of' });
  const chartEl = h('div', { id: 'live-chart' });
  const tools = [
    h('label', { class: 'inline' }, h('span', { class: 'muted', text: 'Scope' }), scopeSelect),
    segmented([[1, '1 s'], [5, '5 s'], [15, '15 s']], state.avgS, (v) => { state.avgS = v; drawChart(); }, 'Average over'),
    segmented([[300, '5 min'], [600, '10 min'], [900, '15 min']], state.windowS, (v) => { state.windowS = v; drawChart(); }, 'Window'),
    segmented([['pps', 'Packets/s'], ['bps', 'Bits/s']], state.metric, (v) => { state.metric = v; drawChart(); }, 'Unit'),
  ];
  const attacksBody = h('div', { id: 'active-attacks' });
  const scansBody = h('div', { id: 'active-scans' });
  const recentBody = h('div', { id: 'recent-attacks' });
  root.append(
    kpis,
    card('Live traffic', { tools, id: 'live-card' }, legend('attacks'), chartEl),
    card('Active attacks', { id: 'attacks-card' }, attacksBody),
    h('div', { class: 'columns' },
      card('Active scans', { id: 'scans-card', tools: h('a', { href: '#/scans', class: 'more', text: 'All scans →' }) }, scansBody),
      card('Recently ended attacks', { id: 'recent-card', tools: h('a', { href: '#/attacks', class: 'more', text: 'History →' }) }, recentBody)),
  );
  const chart = new TimeChart(chartEl, { height: 250, label: 'live traffic, per second' });

  function fillScopes() {
    const keep = state.scope;
    const options = [h('option', { value: 'total', text: 'All protected space' })];
    // IPv4 first, then IPv6, each in address order as text sorts it.
    const sorted = [...state.prefixes].sort((a, b) => (a.includes(':') - b.includes(':')) || a.localeCompare(b, 'en', { numeric: true }));
    for (const p of sorted) options.push(h('option', { value: p, text: p }));
    scopeSelect.replaceChildren(...options);
    scopeSelect.value = state.prefixes.has(keep) ? keep : 'total';
  }
  scopeSelect.addEventListener('change', () => { state.scope = scopeSelect.value; drawChart(); });

  function drawChart() {
    const last = state.live[state.live.length - 1];
    const to = last ? f.ms(last.t) : Date.now();
    // A daemon younger than the window: start at its first second (two minutes at least).
    const first = state.live.length ? f.ms(state.live[0].t) : to;
    const from = Math.min(to - 120_000, Math.max(to - state.windowS * 1000, first));
    // Attacks on what the chart shows, shaded.
    const bands = [...state.active.values(), ...state.ended]
      .filter((d) => state.scope === 'total' || covers(state.scope, d.target))
      .map((d) => [f.ms(d.start), d.end ? f.ms(d.end) : null]);
    chart.set({
      points: livePoints(state.scope, state.metric, state.avgS), from, to, metric: state.metric,
      note: state.avgS > 1 ? `${state.avgS} s average` : null, bands,
    });
    drawKpis();
  }

  function kpi(label, value, sub, cls) {
    return h('div', { class: ['kpi', cls] }, h('div', { class: 'kpi-label', text: label }),
      h('div', { class: 'kpi-value', text: value }), h('div', { class: 'kpi-sub', text: sub }));
  }

  function drawKpis() {
    // "Now" is the chart's last point: averaged as the chart is.
    const n = Math.min(state.avgS, state.live.length);
    const recent = state.live.slice(state.live.length - n);
    const mean = (dir, m) => (n ? recent.reduce((a, s) => a + s[dir][m], 0) / n : null);
    const last = {
      inbound: { pps: mean('inbound', 'pps'), bps: mean('inbound', 'bps') },
      outbound: { pps: mean('outbound', 'pps'), bps: mean('outbound', 'bps') },
    };
    const ex = state.exportersSummary;
    kpis.replaceChildren(
      kpi('Inbound now', f.pps(last.inbound.pps), f.bps(last.inbound.bps), 'kpi-in'),
      kpi('Outbound now', f.pps(last.outbound.pps), f.bps(last.outbound.bps), 'kpi-out'),
      kpi('Active attacks', String(state.active.size), state.active.size ? 'under attack' : 'all clear', state.active.size ? 'kpi-alert' : 'kpi-ok'),
      kpi('Active scans', String(state.scans.size), state.scans.size ? 'sources probing' : 'none', state.scans.size ? 'kpi-warn' : null),
      kpi('Exporters', ex ? `${ex.ok} / ${ex.total}` : '–', exporterNote(ex), ex && ex.ok < ex.total ? 'kpi-warn' : null),
    );
  }

  function drawAttacks() {
    attacksBody.replaceChildren(activeAttacksTable());
    $('attacks-card').classList.toggle('alerting', state.active.size > 0);
  }
  function drawScans() {
    scansBody.replaceChildren(scansTable([...state.scans.values()], 'No scan in progress.', SCAN_COLUMNS_SHORT));
    recentBody.replaceChildren(table(RECENT_COLUMNS, state.ended, { onRow: openDetection, empty: 'None yet.', label: 'recently ended attacks' }));
  }

  fillScopes();
  drawChart();
  drawAttacks();
  drawScans();
  loadExporterSummary().then(drawKpis).catch(() => {});
  return (why) => {
    if (why === 'exporters') drawKpis();
    if (why === 'prefixes') fillScopes();
    if (why === 'traffic' || why === 'prefixes' || why === 'all') drawChart();
    if (why === 'detection' || why === 'all') {
      drawAttacks();
      drawScans();
      drawKpis();
    }
  };
}

function exporterNote(ex) {
  if (!ex) return 'loading';
  if (!ex.total) return 'none has sent yet';
  return ex.ok === ex.total ? 'all healthy' : `${ex.total - ex.ok} need attention`;
}

async function loadExporterSummary() {
  const r = await get('exporters');
  const list = r.exporters || [];
  state.exportersSummary = { total: list.length, ok: list.filter((e) => e.health === 'ok').length };
  state.exporterProblem = list.some((e) => e.health !== 'ok');
  $('nav-exporters').hidden = !state.exporterProblem;
  return r;
}

// ---------------------------------------------------------------------------------------
// Attacks: active and history with paging

function attacks(root) {
  const activeBody = h('div');
  const historyBody = h('div', { id: 'attack-history' });
  const more = h('button', { type: 'button', class: 'secondary', id: 'older', text: 'Older', hidden: true });
  const page = { items: [], next: null, error: null };
  root.append(
    card('Active attacks', { id: 'attacks-card' }, activeBody),
    card('Attack history', { id: 'history-card' }, historyBody, h('div', { class: 'pager' }, more)),
  );
  const HISTORY_COLUMNS = [
    ATTACK_COLUMNS[0], ATTACK_COLUMNS[1], ATTACK_COLUMNS[2], ATTACK_COLUMNS[3], ATTACK_COLUMNS[4],
    ATTACK_COLUMNS[5],
    { label: 'Started', cell: (d) => f.when(d.start, true) },
    { label: 'Ended', cell: (d) => f.when(d.end) },
    { label: 'Lasted', num: true, cell: (d) => f.duration(f.lasted(d.start, d.end)) },
  ];
  function drawActive() {
    activeBody.replaceChildren(activeAttacksTable());
    $('attacks-card').classList.toggle('alerting', state.active.size > 0);
  }
  function drawHistory() {
    if (page.error) {
      historyBody.replaceChildren(errorBox(page.error));
      return;
    }
    historyBody.replaceChildren(table(HISTORY_COLUMNS, page.items, { onRow: openDetection, empty: 'No attack has ended yet.', label: 'attack history' }));
    more.hidden = page.next == null;
  }
  async function load(before) {
    more.disabled = true;
    try {
      const r = await get('attacks', { state: 'ended', limit: HISTORY_PAGE, before });
      page.items = before ? page.items.concat(r.attacks) : r.attacks;
      page.next = r.next;
      page.error = null;
    } catch (e) {
      page.error = e;
    } finally {
      more.disabled = false;
    }
    drawHistory();
  }
  more.addEventListener('click', () => load(page.next));
  drawActive();
  historyBody.append(h('p', { class: 'empty', text: 'Loading…' }));
  load();
  return (why, d) => {
    if (why === 'detection' || why === 'all') drawActive();
    if (why === 'detection' && d.kind === 'ddos' && d.state === 'ended' && !page.items.some((x) => x.id === d.id)) {
      page.items.unshift(d);
      drawHistory();
    }
  };
}

// ---------------------------------------------------------------------------------------
// Scans

function scans(root) {
  const activeBody = h('div');
  const recentBody = h('div');
  const more = h('button', { type: 'button', class: 'secondary', text: 'Older', hidden: true });
  const page = { items: [], next: null };
  root.append(
    card('Active scans', {}, activeBody),
    card('Ended scans', {}, recentBody, h('div', { class: 'pager' }, more)),
  );
  const drawActive = () => activeBody.replaceChildren(scansTable([...state.scans.values()], 'No scan in progress.'));
  const drawRecent = () => {
    recentBody.replaceChildren(scansTable(page.items, 'No scan has ended yet.'));
    more.hidden = page.next == null;
  };
  async function load(before) {
    try {
      const r = await get('detections', { kind: 'scan', state: 'ended', limit: HISTORY_PAGE, before });
      page.items = before ? page.items.concat(r.detections) : r.detections;
      page.next = r.next;
      drawRecent();
    } catch (e) {
      recentBody.replaceChildren(errorBox(e));
    }
  }
  more.addEventListener('click', () => load(page.next));
  drawActive();
  load();
  return (why, d) => {
    if (why === 'detection' || why === 'all') drawActive();
    if (why === 'detection' && d.kind === 'scan' && d.state === 'ended' && !page.items.some((x) => x.id === d.id)) {
      page.items.unshift(d);
      drawRecent();
    }
  };
}

// ---------------------------------------------------------------------------------------
// Intrusions: login abuse, exfiltration, HTTP floods, indicator matches (every kind that is
// neither a flood nor a scan), newest first, live from the event stream.

const INTRUSION_SEVERE = new Set(['login_after_failures', 'impossible_travel', 'exfiltration', 'ioc_match']);
const isIntrusion = (d) => d.kind !== 'ddos' && d.kind !== 'scan';

function intrusions(root) {
  const body = h('div', { id: 'intrusions' });
  const more = h('button', { type: 'button', class: 'secondary', text: 'Older', hidden: true });
  const page = { items: [], next: null };
  root.append(card('Intrusions', {}, body, h('div', { class: 'pager' }, more)));
  const columns = [
    { label: 'Kind', cell: (d) => h('span', { class: ['tag', INTRUSION_SEVERE.has(d.kind) ? 'tag-warn' : null], text: f.vector(d.kind) }) },
    { label: 'Source', cell: (d) => h('span', { class: 'mono', text: d.source || (d.top_sources || []).map((x) => x.addr).slice(0, 3).join(', ') || '—' }) },
    { label: 'User', cell: (d) => d.user || '—' },
    { label: 'Service', cell: (d) => [d.service, d.target].filter(Boolean).join(' on ') || '—' },
    { label: 'Started', cell: (d) => f.when(d.start || d.first_seen || d.time, true) },
    { label: 'State', cell: (d) => h('span', { class: ['state', `state-${d.state}`], text: d.state }) },
    { label: 'Evidence', cell: (d) => d.evidence || '' },
  ];
  const draw = () => {
    body.replaceChildren(table(columns, page.items, { onRow: openDetection, rowClass: (d) => [freshClass(d), 'intrusion-row'], empty: 'No login abuse, exfiltration or HTTP flood seen.', label: 'intrusions' }));
    more.hidden = page.next == null;
  };
  async function load(before) {
    try {
      // The API pages over every kind; floods and scans have their own views.
      const r = await get('detections', { limit: HISTORY_PAGE, before });
      const mine = r.detections.filter(isIntrusion);
      page.items = before ? page.items.concat(mine) : mine;
      page.next = r.next;
      draw();
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  more.addEventListener('click', () => load(page.next));
  load();
  return (why, d) => {
    if (why !== 'detection' || !isIntrusion(d)) return;
    page.items = [d, ...page.items.filter((x) => x.id !== d.id)];
    draw();
  };
}

// ---------------------------------------------------------------------------------------
// Traffic history: per-minute series and top hosts and prefixes from the store

function traffic(root) {
  const chartEl = h('div', { id: 'history-chart' });
  const totals = h('div', { class: 'kpis kpis-small' });
  const hostsBody = h('div');
  const prefixesBody = h('div');
  const view = { range: state.historyRange || 3600, metric: state.metric, data: null };
  const tools = [
    segmented([[3600, '1 h'], [6 * 3600, '6 h'], [24 * 3600, '24 h'], [7 * 86400, '7 d']], view.range, (v) => { view.range = v; state.historyRange = v; load(); }, 'Range'),
    segmented([['pps', 'Packets/s'], ['bps', 'Bits/s']], view.metric, (v) => { view.metric = v; draw(); }, 'Unit'),
  ];
  root.append(
    card('Traffic history', { tools }, legend(), chartEl, totals),
    h('div', { class: 'columns' },
      card('Top protected hosts', {}, hostsBody),
      card('Top protected prefixes', {}, prefixesBody)),
  );
  const chart = new TimeChart(chartEl, { height: 260, label: 'traffic per minute' });
  const topColumns = (what) => [
    { label: what, cell: (e) => h('span', { class: 'mono', text: e.key }) },
    { label: 'Dir', cell: (e) => directionBadge(e.direction) },
    { label: 'Packets', num: true, cell: (e) => f.si(e.packets) },
    { label: 'Bytes', num: true, cell: (e) => `${f.si(e.bytes)}B` },
    { label: 'Flows', num: true, cell: (e) => f.si(e.flows) },
    { label: 'Avg rate', num: true, cell: (e) => f.bps((e.bytes * 8) / view.range) },
  ];

  function draw() {
    const d = view.data;
    if (!d) return;
    const v = (x) => (x ? (view.metric === 'bps' ? (x.bytes * 8) / 60 : x.packets / 60) : 0);
    // Minutes without a row had no traffic: draw them as zero, not as a line across.
    const byMinute = new Map((d.series || []).map((p) => [f.ms(p.minute), p]));
    const points = [];
    const to = f.ms(d.to);
    for (let t = Math.ceil(f.ms(d.from) / 60_000) * 60_000; t < to; t += 60_000) {
      const p = byMinute.get(t);
      points.push({ t, in: v(p?.inbound), out: v(p?.outbound) });
    }
    if (!byMinute.size) points.length = 0;
    chart.set({ points, from: f.ms(d.from), to: f.ms(d.to), metric: view.metric });
    const span = (f.ms(d.to) - f.ms(d.from)) / 1000 || 1;
    totals.replaceChildren(
      h('div', { class: 'kpi kpi-in' }, h('div', { class: 'kpi-label', text: 'Inbound in range' }),
        h('div', { class: 'kpi-value', text: `${f.si(d.inbound.bytes)}B` }),
        h('div', { class: 'kpi-sub', text: `${f.si(d.inbound.packets)} packets · avg ${f.bps((d.inbound.bytes * 8) / span)}` })),
      h('div', { class: 'kpi kpi-out' }, h('div', { class: 'kpi-label', text: 'Outbound in range' }),
        h('div', { class: 'kpi-value', text: `${f.si(d.outbound.bytes)}B` }),
        h('div', { class: 'kpi-sub', text: `${f.si(d.outbound.packets)} packets · avg ${f.bps((d.outbound.bytes * 8) / span)}` })),
    );
    hostsBody.replaceChildren(table(topColumns('Host'), d.top_hosts || [], { empty: 'No traffic recorded in this range.', label: 'top hosts' }));
    prefixesBody.replaceChildren(table(topColumns('Prefix'), d.top_prefixes || [], { empty: 'No traffic recorded in this range.', label: 'top prefixes' }));
  }

  async function load() {
    const to = new Date();
    const from = new Date(to.getTime() - view.range * 1000);
    try {
      view.data = await get('traffic', { from: from.toISOString(), to: to.toISOString(), top: 15 });
      draw();
    } catch (e) {
      hostsBody.replaceChildren(errorBox(e));
    }
  }
  load();
  every(60_000, load);
  return () => {};
}

// ---------------------------------------------------------------------------------------
// Exporters and the pipeline

function exporters(root) {
  const body = h('div', { id: 'exporters-table' });
  const refusedBody = h('div');
  const pipeline = h('div');
  root.append(
    card('Exporters', { id: 'exporters-card' }, body),
    h('div', { class: 'columns' },
      card('Collector and pipeline', {}, pipeline),
      card('Refused exporters', {}, refusedBody)),
  );
  const health = (e) => h('span', { class: ['health', `health-${e.health}`], text: e.health.replace('_', ' ') });
  const columns = [
    { label: 'Exporter', cell: (e) => h('span', { class: 'mono', text: e.address }) },
    { label: 'Health', cell: health },
    { label: 'Formats', cell: (e) => (e.formats || []).join(', ') },
    { label: 'Datagrams', num: true, cell: (e) => f.count(e.datagrams) },
    { label: 'Records', num: true, cell: (e) => f.count(e.records) },
    { label: 'Errors', num: true, cell: (e) => h('span', { class: e.errors ? 'bad' : null, text: f.count(e.errors) }) },
    { label: 'Template misses', num: true, cell: (e) => h('span', { class: e.template_misses ? 'warn' : null, text: f.count(e.template_misses) }) },
    { label: 'Sampling', num: true, cell: (e) => (e.sampling_rate ? `1:${e.sampling_rate}` : '–') },
    { label: 'Last seen', cell: (e) => (e.last_seen ? `${f.duration(f.lasted(e.last_seen, null))} ago` : 'never') },
    { label: 'Last error', cell: (e) => h('span', { class: 'muted small', text: e.last_error || '' }) },
  ];
  function drawPipeline() {
    const s = state.status;
    if (!s) return;
    const p = s.pipeline;
    const row = (k, v, cls) => [h('dt', { text: k }), h('dd', { class: cls, text: v })];
    pipeline.replaceChildren(h('dl', { class: 'facts' },
      (s.listeners || []).map((l) => row(`Listening ${l.listen}`, `${l.sockets} sockets · ${f.si(l.recv_buffer_bytes)}B buffer`)),
      row('Records processed', f.count(p.processed_records)),
      row('Processing rate', state.rate != null ? f.per(state.rate, 'records/s') : '–'),
      row('Queued now', `${f.count(p.queued_records)} of ${f.count(p.queue_records)}`),
      row('Dropped records', f.count(p.dropped_records), p.dropped_records ? 'bad' : null),
      row('Refused datagrams', f.count(p.refused_datagrams), p.refused_datagrams ? 'warn' : null),
      row('Dropped events', f.count(p.dropped_events), p.dropped_events ? 'warn' : null),
      row('Store errors', f.count(p.store_errors), p.store_errors ? 'bad' : null),
      row('Protected space', (s.protect || []).join(', ') || 'every destination'),
      row('Store', s.store?.path || '–'),
    ));
  }
  async function load() {
    try {
      const r = await loadExporterSummary();
      body.replaceChildren(table(columns, r.exporters || [], { empty: 'No exporter has sent anything yet.', label: 'exporters' }));
      refusedBody.replaceChildren(table([
        { label: 'Address', cell: (e) => h('span', { class: 'mono', text: e.address }) },
        { label: 'Datagrams refused', num: true, cell: (e) => f.count(e.datagrams) },
      ], r.refused || [], { empty: 'None: every sender is allowed.', label: 'refused exporters' }));
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  load();
  drawPipeline();
  every(STATUS_EVERY_MS, load);
  return (why) => {
    if (why === 'status') drawPipeline();
  };
}

// ---------------------------------------------------------------------------------------
// One detection: every field and its timeline

function detection(root, id) {
  const body = h('div', { class: 'detail', id: 'detail' }, h('p', { class: 'empty', text: 'Loading…' }));
  root.append(h('div', { class: 'crumbs' }, h('a', { href: '#/attacks', text: '← Attacks' }), h('a', { href: '#/scans', text: 'Scans' })), body);
  let shown = null;

  async function load() {
    try {
      shown = await get(`detections/${encodeURIComponent(id)}`);
      draw();
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }

  function draw() {
    const d = shown;
    if (isIntrusion(d)) {
      drawIntrusion(d);
      return;
    }
    const attack = d.kind === 'ddos';
    const title = attack ? `${f.vector(d.vector)} on ${d.target}` : `${f.vector(d.scan_type)} ${d.protocol.toUpperCase()} scan from ${d.source}`;
    const stateBadge = h('span', { class: ['state', `state-${d.state}`], text: d.state === 'active' ? 'Active' : 'Ended' });
    const kpi = (label, value, extra) => h('div', { class: 'kpi' }, h('div', { class: 'kpi-label', text: label }), h('div', { class: 'kpi-value' }, value), extra ? h('div', { class: 'kpi-sub', text: extra }) : null);
    const duration = h('span', { data: d.end ? { since: d.start, until: d.end } : { since: d.start }, text: f.duration(f.lasted(d.start, d.end)) });
    const kpis = attack
      ? [kpi('Peak', f.pps(d.peak_pps), f.bps(d.peak_bps)), kpi('Confidence', confidence(d.confidence)),
        kpi(d.end ? 'Lasted' : 'Lasting', duration, `since ${f.when(d.start, true)}`), kpi('Samples', f.count(d.samples), 'packets observed')]
      : [kpi('Ports', f.count(d.ports), `${f.count(d.hosts)} hosts`), kpi('Confidence', confidence(d.confidence)),
        kpi(d.end ? 'Lasted' : 'Lasting', duration, `since ${f.when(d.start, true)}`), kpi('Probes', f.count(d.probes), `${f.count(d.answered)} answered`)];

    const facts = [];
    const fact = (k, v) => facts.push(h('dt', { text: k }), h('dd', {}, v));
    fact('Id', String(d.id));
    fact('Kind', attack ? 'DDoS attack' : 'scan');
    fact('State', d.state);
    fact('Direction', d.direction === 'outbound' ? 'outbound: a protected host is the source' : 'inbound: toward the protected space');
    fact('Target', h('span', { class: 'mono', text: d.target }));
    if (attack) {
      fact('Vector', f.vector(d.vector));
      fact('All vectors', h('span', { class: 'chips' }, (d.vectors || []).map((v) => h('span', { class: 'tag', text: f.vector(v) }))));
      fact('Peak', `${f.count(d.peak_pps)} pps · ${f.bps(d.peak_bps)}`);
      fact('Sources', d.spoofed_sources ? h('span', { class: 'tag tag-warn', text: 'spoofed (forged sources)' }) : 'not spoofed');
      fact('Packet size', d.packet_size ? `${d.packet_size.min}–${d.packet_size.max} bytes, avg ${d.packet_size.avg}` : 'not known');
      fact('TTL', d.ttl ? `${d.ttl.min}–${d.ttl.max}, avg ${d.ttl.avg}` : 'not in the telemetry');
      fact('Samples', f.count(d.samples));
    } else {
      fact('Source', h('span', { class: 'mono', text: d.source }));
      fact('Type', `${d.scan_type}, ${d.protocol}`);
      fact('Ports probed', f.count(d.ports));
      fact('Hosts probed', f.count(d.hosts));
      fact('Probes', f.count(d.probes));
      fact('Answered', f.count(d.answered));
      fact('Last probe', f.when(d.last_seen, true));
    }
    fact('Confidence', confidence(d.confidence));
    fact('Started', f.when(d.start, true));
    fact('Ended', d.end ? f.when(d.end, true) : h('span', { class: 'state state-active', text: 'still active' }));
    fact('Last update', f.when(d.updated, true));

    const addrTable = (list) => table([
      { label: 'Address', cell: (x) => h('span', { class: 'mono', text: x.addr }) },
      { label: 'Packets', num: true, cell: (x) => f.si(x.packets) },
      { label: 'Share', cell: (x) => shareBar(x.share) },
    ], list || [], { empty: 'None stand out: the traffic is spread.' });
    const portTable = (list) => table([
      { label: 'Port', cell: (x) => h('span', { class: 'mono', text: String(x.port) }) },
      { label: 'Packets', num: true, cell: (x) => f.si(x.packets) },
      { label: 'Share', cell: (x) => shareBar(x.share) },
    ], list || [], { empty: 'Spread over many ports.' });

    const fingerprint = [];
    if (attack) {
      if (d.direction === 'outbound') fingerprint.push(card('Top destinations', {}, addrTable(d.top_destinations)));
      else fingerprint.push(card('Top sources', {}, d.spoofed_sources && !(d.top_sources || []).length ? h('p', { class: 'empty', text: 'Spoofed: sources are forged, none stands out.' }) : addrTable(d.top_sources)));
      fingerprint.push(card('Top source ports', {}, portTable(d.top_src_ports)));
    }
    fingerprint.push(card('Top destination ports', {}, portTable(d.top_dst_ports)));

    const timeline = h('ol', { class: 'timeline', id: 'timeline' }, (d.timeline || []).map((e) =>
      h('li', { class: ['tl', `tl-${e.event}`] },
        h('div', { class: 'tl-head' }, h('span', { class: 'tl-event', text: e.event }), h('time', { datetime: e.at, text: f.when(e.at, true) })),
        h('div', { class: 'tl-summary', text: e.summary }),
        detailLine(e.detail))));

    const raw = h('details', { class: 'raw' }, h('summary', { text: 'All fields (JSON)' }), h('pre', { text: JSON.stringify(d, null, 2) }));

    body.replaceChildren(
      h('div', { class: 'detail-head' }, h('h1', {}, title, ' ', stateBadge), h('p', { class: 'evidence', text: d.evidence })),
      h('div', { class: 'kpis' }, kpis),
      trafficCard(),
      h('div', { class: 'detail-grid' },
        h('div', { class: 'detail-main' },
          card('Fingerprint', {}, h('dl', { class: 'facts' }, facts)),
          h('div', { class: 'columns' }, fingerprint)),
        card('Timeline', { cls: 'timeline-card' }, timeline)),
      raw);
    drawTraffic();
  }

  // Login abuse and the other kinds: their fields as they come, and the timeline.
  function drawIntrusion(d) {
    const stateBadge = h('span', { class: ['state', `state-${d.state}`], text: d.state === 'active' ? 'Active' : 'Ended' });
    const title = `${f.vector(d.kind)}${d.source ? ` from ${d.source}` : ''}${d.user ? ` (user ${d.user})` : ''}`;
    const facts = [];
    const fact = (k, v) => facts.push(h('dt', { text: k }), h('dd', {}, v));
    fact('Id', String(d.id));
    fact('Kind', f.vector(d.kind));
    fact('State', d.state);
    for (const [k, v] of Object.entries(d)) {
      if (['id', 'kind', 'state', 'timeline', 'evidence'].includes(k) || v == null || typeof v === 'object') continue;
      fact(k.replace(/_/g, ' '), h('span', { class: 'mono', text: String(v) }));
    }
    const timeline = h('ol', { class: 'timeline', id: 'timeline' }, (d.timeline || []).map((e) =>
      h('li', { class: ['tl', `tl-${e.event}`] },
        h('div', { class: 'tl-head' }, h('span', { class: 'tl-event', text: e.event }), h('time', { datetime: e.at, text: f.when(e.at, true) })),
        h('div', { class: 'tl-summary', text: e.summary }),
        detailLine(e.detail))));
    const raw = h('details', { class: 'raw' }, h('summary', { text: 'All fields (JSON)' }), h('pre', { text: JSON.stringify(d, null, 2) }));
    body.replaceChildren(
      h('div', { class: 'detail-head' }, h('h1', {}, title, ' ', stateBadge), h('p', { class: 'evidence', text: d.evidence })),
      h('div', { class: 'detail-grid' },
        h('div', { class: 'detail-main' }, card('Details', {}, h('dl', { class: 'facts' }, facts))),
        card('Timeline', { cls: 'timeline-card' }, timeline)),
      raw);
  }

  // The live traffic of the target's prefix around the attack, while the page still holds
  // those seconds (the last 15 minutes).
  let chart = null;
  let prefix = null;
  function trafficCard() {
    chart = null;
    prefix = [...state.prefixes].find((p) => covers(p, shown.target)) || null;
    const first = state.live.length ? f.ms(state.live[0].t) : Infinity;
    const end = shown.end ? f.ms(shown.end) : Date.now();
    if (!prefix || end < first) return null;
    const el = h('div', { id: 'detail-chart' });
    const what = shown.kind === 'ddos' ? 'attack' : 'scan';
    const c = card(`Traffic of ${prefix} around the ${what}`, { id: 'detail-traffic' },
      legend(`the ${what}`), el);
    chart = new TimeChart(el, { height: 190, label: `traffic of ${prefix}` });
    return c;
  }
  function drawTraffic() {
    if (!chart) return;
    const last = state.live[state.live.length - 1];
    const liveEnd = last ? f.ms(last.t) : Date.now();
    // From a minute before to a minute after (or to now), two minutes at least, ending now
    // at the latest.
    const to = shown.end ? Math.min(liveEnd, f.ms(shown.end) + 60_000) : liveEnd;
    const from = Math.min(f.ms(shown.start) - 60_000, to - 120_000);
    chart.set({
      points: livePoints(prefix, 'pps', state.avgS), from, to, metric: 'pps',
      note: state.avgS > 1 ? `${state.avgS} s average` : null,
      bands: [[f.ms(shown.start), shown.end ? f.ms(shown.end) : liveEnd]],
    });
  }

  load();
  return (why, d) => {
    if (why === 'traffic' && shown && !shown.end) drawTraffic();
    if (why === 'detection' && shown && d.id === shown.id) {
      // The event carries the stored detection with its timeline.
      shown = d;
      draw();
    }
  };
}

/** What the summary sentence does not say already: the confidence at that step. */
function detailLine(detail) {
  if (!detail || typeof detail !== 'object' || detail.confidence == null) return null;
  return h('div', { class: 'tl-detail', text: `confidence ${f.pct(detail.confidence)}` });
}

// ---------------------------------------------------------------------------------------
// Wiring

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token-input').value.trim();
    if (t) login(t);
  });
  $('logout').addEventListener('click', logout);
  $('banner-close').addEventListener('click', () => { $('banner').hidden = true; });
  window.addEventListener('hashchange', route);
  const saved = token.get();
  if (saved) login(saved);
  else showLogin(null);
}

init();
