// How numbers, times and names read in the console: rates with k/M/G units, durations,
// local clock times, vector names. Pure functions, no DOM.

const UNITS = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** 1234567 → "1.23 M"; small numbers stay whole. */
export function si(n, digits = 3) {
  if (n == null || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  for (const [f, u] of UNITS) {
    if (a >= f) return `${trim(n / f, digits)} ${u}`;
  }
  return a >= 10 || Number.isInteger(n) ? `${Math.round(n)} ` : `${trim(n, 2)} `;
}

function trim(x, digits) {
  // Three significant digits: 1.23, 12.3, 123.
  const a = Math.abs(x);
  const d = a >= 100 ? 0 : a >= 10 ? Math.max(0, digits - 2) : Math.max(0, digits - 1);
  return x.toFixed(d);
}

/** An axis label: as few digits as the value needs (2.5 k, 10 M). */
export function short(n) {
  if (n === 0) return '0 ';
  for (const [f, u] of UNITS) {
    if (Math.abs(n) >= f) return `${+(n / f).toFixed(2)} ${u}`;
  }
  return `${+n.toFixed(2)} `;
}

/** "1.61 k records/s", "583 records/s": a count per second with a spelled-out unit. */
export const per = (n, unit) => `${si(n).trimEnd()} ${unit}`;

export const pps = (n) => `${si(n)}pps`;
export const bps = (n) => `${si(n)}bit/s`;
export const count = (n) => (n == null ? '–' : Math.round(n).toLocaleString('en-US'));
export const pct = (x) => (x == null ? '–' : `${Math.round(x * 100)} %`);

/** A rate in the chosen unit: `metric` is "pps" or "bps". */
export const rate = (metric, n) => (metric === 'bps' ? bps(n) : pps(n));
export const axisRate = (metric, n) => `${short(n)}${metric === 'bps' ? 'bit/s' : 'pps'}`;

/** RFC 3339 (any number of fraction digits) or Unix seconds → milliseconds. */
export function ms(t) {
  if (t == null) return null;
  if (typeof t === 'number') return t * 1000;
  // Date.parse takes at most milliseconds reliably: cut longer fractions.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return Date.parse(t);
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  return Date.parse(m[1] + frac + m[3]);
}

const pad = (n) => String(n).padStart(2, '0');

/** 14:03:07 */
export function clock(t) {
  const d = new Date(ms(t));
  if (Number.isNaN(d.getTime())) return '–';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 2026-11-22 14:03:07 (local), or just the clock when it is today. */
export function when(t, always = false) {
  const v = ms(t);
  if (v == null || Number.isNaN(v)) return '–';
  const d = new Date(v);
  const today = new Date();
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay && !always ? clock(v / 1000) : `${day} ${clock(v / 1000)}`;
}

/** 3725 s → "1 h 2 min"; 75 → "1 min 15 s". */
export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–';
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s} s`;
  return `${s} s`;
}

/** Seconds from `start` to `end` (or to now while it lasts). */
export function lasted(start, end, now = Date.now()) {
  const a = ms(start);
  const b = end ? ms(end) : now;
  return a == null ? null : (b - a) / 1000;
}

/** syn_flood → "SYN flood"; dns_amplification → "DNS amplification". */
export function vector(v) {
  if (!v) return '–';
  const upper = new Set(['syn', 'ack', 'rst', 'tcp', 'udp', 'icmp', 'ip', 'gre', 'dns', 'ntp',
    'ssdp', 'snmp', 'cldap', 'isakmp', 'wsd']);
  const words = v.split('_').map((w) => (upper.has(w) ? w.toUpperCase() : w));
  if (words[0] === 'SYNACK' || words[0] === 'synack') words[0] = 'SYN-ACK';
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Ticks for an axis from 0 to `max`: round steps (1, 2, 5 × 10^n). */
export function ticks(max, wanted = 4) {
  if (!(max > 0)) return { top: 1, step: 1, values: [0, 1] };
  const raw = max / wanted;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const top = Math.ceil(max / step) * step;
  const values = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(v);
  return { top, step, values };
}
