// The network view: the summary cards, one row per validator, and the two
// live charts.
import {$, ago, fill, h, short, throttle} from './dom.js';
import {byzantine, live, on, quorum} from './live.js';
import {drawChart} from './chart.js';

let visible = false;

export function init() {
  const render = throttle(() => visible && draw(), 500);
  for (const k of ['status', 'validators', 'evidence', 'blocks', 'event']) on(k, render);
  window.addEventListener('resize', render);
}

export function show() {
  visible = true;
  draw();
}

export function hide() { visible = false; }

function draw() {
  cards();
  rows();
  charts();
}

function cards() {
  const st = live.status;
  if (!st) return;
  const {n, f, q} = quorum(st.validators);
  $('net-height').textContent = String(st.height);
  $('net-round').textContent = String(st.round);
  $('net-leader').textContent = 'validator ' + st.leader;
  fill($('net-n'), String(n), h('small', {}, `tolerates f = ${f} Byzantine; quorum ${q}`));
  $('net-tps').textContent = (st.tps ?? 0).toFixed(1);
  $('net-pending').textContent = String(st.pending ?? 0);
}

function connection(i) {
  const st = live.status;
  if (!st) return {text: '–'};
  if (st.node === i) return {text: '● this node', cls: 'self'};
  const l = (st.links || []).find((x) => x.validator === i);
  if (!l) return {text: 'unknown'};
  if (l.out && l.in) return {text: '⇄ connected both ways', cls: 'up'};
  if (l.out) return {text: '→ outbound only', cls: 'half'};
  if (l.in) return {text: '← inbound only', cls: 'half'};
  return {text: '✕ not connected', cls: 'down'};
}

function rows() {
  const st = live.status;
  const vals = live.validators;
  if (!vals.length) return;
  const now = Date.now();
  const body = $('validators-body');
  fill(body, vals.map((v) => {
    const i = v.index;
    const byz = byzantine(i);
    const conn = connection(i);
    const heard = live.heard.get(i);
    const leader = st && st.leader === i;
    const heardText = heard
      ? [`${heard.what}`, heard.height !== undefined ? ` h ${heard.height}` : '', heard.round !== undefined ? ` r ${heard.round}` : '',
        ' · ', ago(now - heard.t)].join('')
      : 'nothing yet';
    return h('tr', {class: byz ? 'byz' : '', dataset: {validator: i, byzantine: byz ? 'true' : 'false'}},
      h('th', {scope: 'row'}, h('span', {class: 'phone-only'}, 'validator '), String(i)),
      h('td', {dataset: {label: 'Address'}}, h('code', {title: v.address}, short(v.address, 12))),
      h('td', {class: 'behaviour', dataset: {label: 'Behaviour'}}, byz
        ? [h('span', {class: 'badge bad'}, h('span', {'aria-hidden': 'true'}, '⚠ '), 'Byzantine'), ' ', byz.how]
        : [h('span', {class: 'badge ok'}, h('span', {'aria-hidden': 'true'}, '✓ '), 'no misbehaviour seen'),
          st && st.node === i ? ' (honest: this node)' : '']),
      h('td', {class: 'link ' + (conn.cls || ''), dataset: {label: 'Connection'}}, conn.text),
      h('td', {dataset: {label: 'Last heard'}}, heardText),
      h('td', {dataset: {label: 'Role'}}, leader ? h('span', {class: 'badge lead'}, h('span', {'aria-hidden': 'true'}, '★ '), 'leads round ' + st.round) : ''));
  }));
}

// span is the time the charts cover: since the page opened, from one
// minute up to five.
function span() {
  return Math.min(5 * 60000, Math.max(60000, Date.now() - live.started));
}

function charts() {
  const windowMs = span();
  const over = windowMs >= 120000 ? `${Math.round(windowMs / 60000)} min` : `${Math.round(windowMs / 1000)} s`;
  // tx/s: the committed count between status samples about 5 s apart.
  const s = live.samples;
  const tps = [];
  for (let i = 0, j = 0; i < s.length; i++) {
    while (j < i && s[i].t - s[j].t > 5000) j++;
    if (j < i && s[i].t > s[j].t) tps.push({t: s[i].t, v: ((s[i].txs - s[j].txs) * 1000) / (s[i].t - s[j].t)});
  }
  drawChart($('chart-tps'), tps, {windowMs});
  const last = tps.length ? tps[tps.length - 1].v : 0;
  const peak = tps.reduce((m, p) => Math.max(m, p.v), 0);
  $('chart-tps-note').textContent = `now ${last.toFixed(1)} tx/s; peak ${peak.toFixed(1)} tx/s over the last ${over}`;
  $('chart-tps').setAttribute('aria-label', `committed transactions per second: now ${last.toFixed(1)}, peak ${peak.toFixed(1)}`);

  // block time: the gap between consecutive committed blocks' times.
  const bt = [];
  let prev = null;
  for (const h0 of [...live.blocks.keys()].sort((a, b) => a - b)) {
    const b = live.blocks.get(h0);
    const t = Date.parse(b.time);
    if (prev && prev.height === b.height - 1) bt.push({t, v: t - prev.t});
    prev = {height: b.height, t};
  }
  drawChart($('chart-bt'), bt, {windowMs});
  const recent = bt.slice(-20);
  const mean = recent.length ? recent.reduce((a, p) => a + p.v, 0) / recent.length : 0;
  $('chart-bt-note').textContent = recent.length ? `mean of the last ${recent.length} blocks: ${mean.toFixed(0)} ms` : 'waiting for blocks';
  $('chart-bt').setAttribute('aria-label', `block time: mean ${mean.toFixed(0)} ms over the last ${recent.length} blocks`);
}
