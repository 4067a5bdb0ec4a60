// The page's entry point: the hash router, the header line, and the four
// views. Routes: #/network, #/agreement, #/explorer, #/explorer/block/H,
// #/explorer/tx/HASH, #/explorer/account/ADDRESS, #/explorer/kv/KEY,
// #/generals, #/generals?algorithm=om&generals=3&... (a run).
import {$, fill, h, short} from './dom.js';
import {live, on, start} from './live.js';
import * as network from './network.js';
import * as agreement from './agreement.js';
import * as explorer from './explorer.js';
import * as generals from './generals.js';

const views = {network, agreement, explorer, generals};
let current = null;

function route(focus) {
  const [path, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const name = views[parts[0]] ? parts[0] : 'network';
  for (const [n, v] of Object.entries(views)) {
    const section = $('view-' + n);
    section.hidden = n !== name;
    if (n !== name && current === n && v.hide) v.hide();
  }
  for (const a of document.querySelectorAll('nav a[data-view]')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  current = name;
  const target = views[name].show(parts.slice(1), new URLSearchParams(qs || '')) || $('h-' + name);
  document.title = (target.textContent || name) + ' · Strategos';
  if (focus) target.focus({preventScroll: false});
}

function header() {
  const st = live.status;
  if (!st) return;
  fill($('node-line'),
    h('span', {}, 'node ', h('strong', {}, String(st.node))),
    ' · ', h('span', {}, st.app, ' app'),
    ' · chain ', h('code', {title: st.chain_id}, short(st.chain_id, 16)),
    ' · height ', h('strong', {dataset: {testid: 'header-height'}}, String(st.height)),
    ' · round ', String(st.round));
}

function reachability(ok) {
  const el = $('conn');
  el.hidden = ok;
  el.textContent = ok ? '' : 'Cannot reach this node: retrying every second…';
}

on('status', header);
on('reachable', reachability);
window.addEventListener('hashchange', () => route(true));
for (const v of Object.values(views)) v.init();
route(false);
start();
