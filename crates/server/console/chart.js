// A time chart drawn by hand in SVG: inbound as a filled area, outbound as a line, round
// axis steps with k/M/G units, and a hover readout. Colours come from the stylesheet
// (classes only: the CSP allows no inline styles in markup).

import { axisRate, clock, rate, ticks, when } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const MARGIN = { top: 12, right: 14, bottom: 26, left: 70 };

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** Time steps for the x axis, in seconds. */
const TIME_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
  43200, 86400];

export class TimeChart {
  /**
   * `el`: an empty element to draw in. Options: `height` in pixels, `label` for screen
   * readers, `long` when the range spans days (dates on the axis).
   */
  constructor(el, { height = 240, label = 'traffic chart' } = {}) {
    this.el = el;
    this.height = height;
    this.points = [];
    this.metric = 'pps';
    this.from = 0;
    this.to = 0;
    this.hoverIndex = null;
    el.classList.add('chart');
    this.root = svg('svg', { role: 'img', 'aria-label': label, class: 'chart-svg' });
    this.tip = document.createElement('div');
    this.tip.className = 'chart-tip';
    this.tip.hidden = true;
    el.append(this.root, this.tip);
    this.root.addEventListener('mousemove', (e) => this.hover(e));
    this.root.addEventListener('mouseleave', () => this.hover(null));
    new ResizeObserver(() => this.draw()).observe(el);
  }

  /** `points`: [{t: ms, in: n, out: n}] oldest first; `from`/`to` in ms; `metric` pps|bps. */
  /** `bands` [[from, to]] in ms (to null: still going) shade time spans (attacks). */
  set({ points, from, to, metric, note = null, bands = [] }) {
    this.points = points;
    this.note = note;
    this.bands = bands;
    this.from = from;
    this.to = to;
    if (metric) this.metric = metric;
    this.draw();
  }

  geometry() {
    const width = Math.max(200, this.el.clientWidth);
    const w = width - MARGIN.left - MARGIN.right;
    const h = this.height - MARGIN.top - MARGIN.bottom;
    return { width, w, h };
  }

  x(t) {
    const { w } = this.geometry();
    const span = Math.max(1, this.to - this.from);
    return MARGIN.left + ((t - this.from) / span) * w;
  }

  draw() {
    const { width, w, h } = this.geometry();
    const root = this.root;
    root.setAttribute('viewBox', `0 0 ${width} ${this.height}`);
    root.setAttribute('width', width);
    root.setAttribute('height', this.height);
    root.replaceChildren();
    const pts = this.points.filter((p) => p.t >= this.from - 1000 && p.t <= this.to + 1000);
    const max = pts.reduce((m, p) => Math.max(m, p.in, p.out), 0);
    const { top, values } = ticks(max, h < 160 ? 3 : 4);
    this.top = top;
    const y = (v) => MARGIN.top + h - (v / top) * h;
    this.y = y;

    // Grid and y axis.
    const grid = svg('g', { class: 'chart-grid' });
    for (const v of values) {
      const yy = Math.round(y(v)) + 0.5;
      grid.append(svg('line', { x1: MARGIN.left, x2: MARGIN.left + w, y1: yy, y2: yy }));
      const label = svg('text', { x: MARGIN.left - 8, y: yy + 4, class: 'chart-label', 'text-anchor': 'end' });
      label.textContent = v === 0 ? '0' : axisRate(this.metric, v);
      grid.append(label);
    }
    // X axis: round times.
    const spanS = (this.to - this.from) / 1000;
    const step = TIME_STEPS.find((s) => (spanS / s) <= Math.max(3, w / 110)) ?? 86400;
    const long = spanS > 86400;
    const first = Math.ceil(this.from / 1000 / step) * step;
    for (let t = first; t * 1000 <= this.to; t += step) {
      const xx = Math.round(this.x(t * 1000)) + 0.5;
      grid.append(svg('line', { x1: xx, x2: xx, y1: MARGIN.top, y2: MARGIN.top + h, class: 'chart-vgrid' }));
      const label = svg('text', { x: xx, y: MARGIN.top + h + 17, class: 'chart-label', 'text-anchor': 'middle' });
      const text = long ? when(t, true).slice(5, 16) : step < 60 ? clock(t) : clock(t).slice(0, 5);
      label.textContent = text;
      grid.append(label);
    }
    root.append(grid);
    root.append(svg('line', {
      x1: MARGIN.left, x2: MARGIN.left + w, y1: MARGIN.top + h + 0.5, y2: MARGIN.top + h + 0.5,
      class: 'chart-axis',
    }));

    for (const [b0, b1] of this.bands || []) {
      const x0 = Math.max(MARGIN.left, this.x(b0));
      const x1 = Math.min(MARGIN.left + w, this.x(b1 ?? this.to));
      if (x1 > x0) {
        root.append(svg('rect', { x: x0, y: MARGIN.top, width: x1 - x0, height: h, class: 'chart-band' }));
      }
    }
    if (pts.length) {
      const line = (key) => pts.map((p, i) => `${i ? 'L' : 'M'}${this.x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join('');
      const inLine = line('in');
      const base = (MARGIN.top + h).toFixed(1);
      const area = `${inLine}L${this.x(pts[pts.length - 1].t).toFixed(1)},${base}L${this.x(pts[0].t).toFixed(1)},${base}Z`;
      root.append(svg('path', { d: area, class: 'series-in-area' }));
      root.append(svg('path', { d: inLine, class: 'series-in' }));
      root.append(svg('path', { d: line('out'), class: 'series-out' }));
    } else {
      const empty = svg('text', { x: MARGIN.left + w / 2, y: MARGIN.top + h / 2, class: 'chart-empty', 'text-anchor': 'middle' });
      empty.textContent = 'no traffic data yet';
      root.append(empty);
    }
    this.drawn = pts;
    this.el.dataset.points = String(pts.length);
    this.cursor = svg('g', { class: 'chart-cursor' });
    root.append(this.cursor);
    this.drawCursor();
  }

  hover(e) {
    if (!e || !this.drawn || !this.drawn.length) {
      this.hoverIndex = null;
      this.drawCursor();
      return;
    }
    const box = this.root.getBoundingClientRect();
    const px = e.clientX - box.left;
    // Nearest point by x.
    let best = 0;
    let bestD = Infinity;
    this.drawn.forEach((p, i) => {
      const d = Math.abs(this.x(p.t) - px);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    });
    this.hoverIndex = best;
    this.hoverT = this.drawn[best].t;
    this.drawCursor();
  }

  drawCursor() {
    if (!this.cursor) return;
    this.cursor.replaceChildren();
    const pts = this.drawn || [];
    // Keep the readout on the same moment while live points arrive.
    let i = this.hoverIndex;
    if (i != null && this.hoverT != null) i = pts.findIndex((p) => p.t === this.hoverT);
    if (i == null || i < 0 || !pts[i]) {
      this.tip.hidden = true;
      return;
    }
    const p = pts[i];
    const { h, width } = this.geometry();
    const xx = this.x(p.t);
    this.cursor.append(svg('line', { x1: xx, x2: xx, y1: MARGIN.top, y2: MARGIN.top + h }));
    this.cursor.append(svg('circle', { cx: xx, cy: this.y(p.in), r: 3.5, class: 'dot-in' }));
    this.cursor.append(svg('circle', { cx: xx, cy: this.y(p.out), r: 3.5, class: 'dot-out' }));
    const t = document.createElement('div');
    t.className = 'tip-time';
    t.textContent = ((this.to - this.from) > 86400e3 ? when(p.t / 1000, true) : clock(p.t / 1000)) + (this.note ? ` · ${this.note}` : '');
    const row = (cls, name, v) => {
      const r = document.createElement('div');
      r.className = `tip-row ${cls}`;
      const n = document.createElement('span');
      n.textContent = name;
      const val = document.createElement('b');
      val.textContent = rate(this.metric, v);
      r.append(n, val);
      return r;
    };
    this.tip.replaceChildren(t, row('in', 'In', p.in), row('out', 'Out', p.out));
    this.tip.hidden = false;
    // Beside the cursor, flipped near the right edge.
    const left = xx + 12 + 170 > width ? xx - 12 - 170 : xx + 12;
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${MARGIN.top + 4}px`;
  }
}
