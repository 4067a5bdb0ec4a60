// Small DOM helpers: every text goes through textContent, never parsed as HTML,
// so nothing a node returns (a kv value, an error) can inject markup.

// h builds an element: h('a', {href: '#/x', class: 'c'}, 'text', child).
// Attributes named on* are not supported on purpose (the page's CSP
// forbids inline handlers); use addEventListener.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (id) => document.getElementById(id);

// fill replaces an element's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function short(hash, n = 10) {
  if (!hash) return '–';
  return hash.length > n + 2 ? hash.slice(0, n) + '…' : hash;
}

export function ago(ms) {
  if (ms < 1000) return 'just now';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s ago';
  const m = s / 60;
  if (m < 60) return Math.floor(m) + ' min ago';
  return Math.floor(m / 60) + ' h ago';
}

export function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], {hour12: false}) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

// throttle runs fn at most once per ms, trailing call included.
export function throttle(fn, ms) {
  let timer = null, again = false;
  return function run() {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(() => { timer = null; if (again) { again = false; run(); } }, ms);
  };
}

// validatorName is how the page writes a validator everywhere.
export const validatorName = (i) => 'validator ' + i;
