// Building the page without innerHTML: every text from the API goes in as text, so nothing
// an exporter or an attacker sent can become markup.

/**
 * h('div', {class: 'x', onclick: f, data: {id: 1}, title: 't'}, child, 'text', [more])
 * Children may be nodes, strings, numbers, arrays, or null (skipped).
 */
export function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = dv;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : String(c));
  }
}

/** A card: a titled panel with optional tools on the right of its title. */
export function card(title, { tools = null, id = null, cls = null } = {}, ...body) {
  return h('section', { class: ['card', cls], id },
    h('div', { class: 'card-head' }, h('h2', { text: title }), tools ? h('div', { class: 'card-tools' }, tools) : null),
    h('div', { class: 'card-body' }, body));
}

/**
 * A table from `columns` [{label, cell(row) → node|string, cls, num}] and `rows`.
 * `onRow(row)` makes rows clickable (and keyboard-reachable); `rowClass(row)` adds classes.
 */
export function table(columns, rows, { onRow = null, rowClass = null, empty = 'Nothing here.', label = null } = {}) {
  if (!rows.length) return h('p', { class: 'empty', text: empty });
  const head = h('tr', {}, columns.map((c) => h('th', { class: [c.cls, c.num && 'num'], scope: 'col', text: c.label })));
  const body = rows.map((r) => {
    const tr = h('tr', { class: [onRow && 'clickable', rowClass && rowClass(r)] },
      columns.map((c) => h('td', { class: [c.cls, c.num && 'num'] }, c.cell(r))));
    if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener('click', () => onRow(r));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') onRow(r);
      });
    }
    return tr;
  });
  return h('div', { class: 'table-wrap' },
    h('table', { 'aria-label': label }, h('thead', {}, head), h('tbody', {}, body)));
}

/** A segmented toggle: `options` [[value, label]]; calls `onChange(value)`. */
export function segmented(options, value, onChange, label) {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': label });
  for (const [v, text] of options) {
    const b = h('button', { type: 'button', class: v === value ? 'on' : null, 'aria-pressed': String(v === value), data: { value: v }, text });
    b.addEventListener('click', () => {
      for (const x of group.children) {
        x.classList.toggle('on', x === b);
        x.setAttribute('aria-pressed', String(x === b));
      }
      onChange(v);
    });
    group.append(b);
  }
  return group;
}

/** A share of 0..1 as a small bar with its percentage. */
export function shareBar(share) {
  const bar = h('span', { class: 'share-fill' });
  bar.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return h('span', { class: 'share' }, h('span', { class: 'share-track' }, bar),
    h('span', { class: 'share-text', text: `${Math.round(share * 100)} %` }));
}

/** Confidence 0..1 as a meter coloured by level. */
export function confidence(c) {
  const level = c >= 0.8 ? 'high' : c >= 0.5 ? 'mid' : 'low';
  const fill = h('span', { class: 'meter-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, c)) * 100}%`;
  return h('span', { class: ['meter', `meter-${level}`], title: `confidence ${c}` },
    h('span', { class: 'meter-track' }, fill), h('span', { class: 'meter-text', text: `${Math.round(c * 100)} %` }));
}
