// The explorer: latest blocks, a block's page, a transaction's page, an
// account (bank) or a key (kv), search, and a form that submits a
// transaction with POST /v1/txs, the page's only way to change state.
import {$, fill, h, short, throttle} from './dom.js';
import {api, byzantine, live, on, quorum} from './live.js';

let visible = false;
let page = null;      // the sub-page shown, or null for the home
let generation = 0;   // bumped on every navigation, so stale polls stop

export function init() {
  const render = throttle(() => visible && !page && latest(), 500);
  on('blocks', render);
  on('status', () => { appText(); render(); });
  $('search').addEventListener('submit', (e) => { e.preventDefault(); search($('search-q').value.trim()); });
  $('submit-tx').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
}

function app() { return live.status ? live.status.app : 'bank'; }

function appText() {
  const bank = app() === 'bank';
  $('search-what').textContent = bank ? 'or account address' : 'or key';
  $('tx-label').textContent = bank ? 'Signed transaction' : 'key=value';
  $('tx-hint').textContent = bank
    ? 'Paste the line that `strategos tx sign --key FILE --to ADDRESS --amount N --nonce N` prints. The page never sees a private key.'
    : 'A kv transaction is the text key=value (printable, one line).';
}

export function show(parts) {
  visible = true;
  appText();
  const gen = ++generation;
  const [kind, arg] = parts;
  const routes = {block: blockPage, tx: txPage, account: accountPage, kv: kvPage};
  if (routes[kind] && arg !== undefined && arg !== '') {
    page = kind;
    $('explorer-home').hidden = true;
    const el = $('explorer-page');
    el.hidden = false;
    const heading = h('h2', {tabindex: '-1'}, '…');
    fill(el, h('p', {class: 'crumbs'}, h('a', {href: '#/explorer'}, '← latest blocks')), heading, h('div', {id: 'page-body'}, 'loading…'));
    routes[kind](arg, heading, gen);
    return heading;
  }
  page = null;
  $('explorer-page').hidden = true;
  $('explorer-home').hidden = false;
  latest();
  return null;
}

export function hide() { visible = false; generation++; }

const current = (gen) => gen === generation && visible;

function latest() {
  const hs = [...live.blocks.keys()].sort((a, b) => b - a).slice(0, 20);
  if (!hs.length) {
    fill($('blocks-body'), h('tr', {}, h('td', {colspan: 6}, 'no committed block yet')));
    return;
  }
  fill($('blocks-body'), hs.map((height) => {
    const b = live.blocks.get(height);
    return h('tr', {},
      h('th', {scope: 'row'}, h('a', {href: `#/explorer/block/${b.height}`}, String(b.height))),
      h('td', {}, h('code', {title: b.hash}, short(b.hash, 12))),
      h('td', {}, String(b.round)),
      h('td', {}, proposer(b.proposer)),
      h('td', {}, String(b.txs.length)),
      h('td', {}, new Date(b.time).toLocaleTimeString([], {hour12: false})));
  }));
}

function proposer(i) {
  return byzantine(i) ? [String(i), ' ', h('span', {class: 'badge bad'}, h('span', {'aria-hidden': 'true'}, '⚠ '), 'Byzantine')] : String(i);
}

function row(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function problem(text) {
  return h('p', {class: 'msg error', role: 'alert'}, text);
}

async function blockPage(arg, heading, gen) {
  const height = Number(arg);
  heading.textContent = `Block ${arg}`;
  if (!Number.isSafeInteger(height) || height < 1) {
    fill($('page-body'), problem('A block height is a positive integer.'));
    return;
  }
  for (;;) {
    const r = await api(`/v1/blocks/${height}`);
    if (!current(gen)) return;
    if (r.ok) { fill($('page-body'), block(r.body)); return; }
    if (r.code !== 404) { fill($('page-body'), problem(r.body?.error || `error ${r.code}`)); return; }
    fill($('page-body'), h('p', {class: 'msg'}, `Block ${height} is not committed yet (this node is at height ${live.status?.height ?? '?'}); waiting…`));
    await new Promise((ok) => setTimeout(ok, 1000));
    if (!current(gen)) return;
  }
}

function block(b) {
  const n = live.status ? live.status.validators : live.validators.length;
  const {q} = quorum(n || 1);
  const signers = b.qc?.signers || [];
  const nav = h('p', {class: 'pager'},
    b.height > 1 ? h('a', {href: `#/explorer/block/${b.height - 1}`, rel: 'prev'}, `← block ${b.height - 1}`) : '',
    ' ', h('a', {href: `#/explorer/block/${b.height + 1}`, rel: 'next'}, `block ${b.height + 1} →`));
  return [
    h('dl', {class: 'facts'},
      row('Height', String(b.height)),
      row('Hash', h('code', {class: 'hash'}, b.hash)),
      row('Parent', b.height > 1 ? h('a', {href: `#/explorer/block/${b.height - 1}`}, h('code', {class: 'hash'}, b.parent_hash)) : h('code', {class: 'hash'}, b.parent_hash)),
      row('Round', String(b.round)),
      row('Proposer', 'validator ', proposer(b.proposer)),
      row('Time', new Date(b.time).toISOString()),
      row('State root', b.state_root ? h('code', {class: 'hash'}, b.state_root) : '(none)'),
      b.evidence?.length
        ? row('Evidence', h('ul', {class: 'chips', 'aria-label': 'evidence'},
          b.evidence.map((e) => h('li', {class: 'chip byz'}, `${e.kind} by validator ${e.validator}, round ${e.round}`))))
        : null,
      row('Certificate (QC)', `round ${b.qc?.round ?? '?'}, signed by ${signers.length} of ${n} (quorum ${q})`,
        h('ul', {class: 'chips', 'aria-label': 'certificate signers', dataset: {testid: 'qc-signers'}},
          signers.map((s) => h('li', {class: 'chip yes' + (byzantine(s) ? ' byz' : ''), dataset: {signer: s}},
            h('span', {'aria-hidden': 'true'}, '✓ '), `validator ${s}`))))),
    h('h3', {}, `Transactions (${b.txs.length})`),
    b.txs.length
      ? h('ol', {class: 'txs'}, b.txs.map((t) => h('li', {}, h('a', {href: `#/explorer/tx/${t}`}, h('code', {class: 'hash'}, t)))))
      : h('p', {}, 'An empty block: the leader had nothing to order, and proposed one so that the chain keeps moving.'),
    nav,
  ];
}

async function txPage(hash, heading, gen) {
  heading.textContent = `Transaction ${short(hash, 12)}`;
  for (let wait = 300; ; wait = Math.min(wait * 1.5, 2000)) {
    const r = await api(`/v1/txs/${encodeURIComponent(hash)}`);
    if (!current(gen)) return;
    if (!r.ok) {
      fill($('page-body'), problem(r.code === 404 ? 'This node knows no transaction with this hash.' : (r.body?.error || `error ${r.code}`)));
      return;
    }
    const t = r.body;
    let status;
    if (t.status === 'committed') {
      status = ['✓ committed at height ', h('a', {href: `#/explorer/block/${t.height}`}, String(t.height))];
    } else if (t.status === 'rejected') {
      status = ['✕ rejected: ', t.error || 'no reason given', t.height ? ` (at height ${t.height})` : ''];
    } else {
      status = ['… pending: waiting to be ordered and committed'];
    }
    fill($('page-body'), h('dl', {class: 'facts'},
      row('Hash', h('code', {class: 'hash'}, t.hash)),
      row('Status', h('span', {class: 'txstatus ' + t.status, dataset: {testid: 'tx-status', status: t.status}}, ...status))));
    if (t.status !== 'pending') return;
    await new Promise((ok) => setTimeout(ok, wait));
    if (!current(gen)) return;
  }
}

async function accountPage(addr, heading, gen) {
  heading.textContent = `Account ${short(addr, 16)}`;
  const r = await api(`/v1/accounts/${encodeURIComponent(addr)}`);
  if (!current(gen)) return;
  if (!r.ok) { fill($('page-body'), problem(r.body?.error || `error ${r.code}`)); return; }
  const a = r.body;
  fill($('page-body'), h('dl', {class: 'facts'},
    row('Address', h('code', {class: 'hash'}, a.address)),
    row('Balance', a.balance.toLocaleString()),
    row('Next nonce (committed)', String(a.nonce)),
    row('Next nonce (with pending)', String(a.pending_nonce))));
}

async function kvPage(key, heading, gen) {
  heading.textContent = `Key ${key}`;
  const r = await api(`/v1/kv/${encodeURIComponent(key)}`);
  if (!current(gen)) return;
  if (r.code === 404) { fill($('page-body'), h('p', {class: 'msg'}, 'No value for this key.')); return; }
  if (!r.ok) { fill($('page-body'), problem(r.body?.error || `error ${r.code}`)); return; }
  fill($('page-body'), h('dl', {class: 'facts'},
    row('Key', h('code', {}, r.body.key)),
    row('Value', h('code', {class: 'value'}, r.body.value)),
    row('As of height', String(r.body.height))));
}

async function search(q) {
  const msg = $('search-msg');
  msg.textContent = '';
  if (!q) return;
  if (/^\d+$/.test(q)) { location.hash = `#/explorer/block/${q}`; return; }
  const hex = q.toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) {
    msg.textContent = 'searching…';
    const t = await api(`/v1/txs/${hex}`);
    if (t.ok) { msg.textContent = ''; location.hash = `#/explorer/tx/${hex}`; return; }
    const height = await findBlock(hex);
    if (height) { msg.textContent = ''; location.hash = `#/explorer/block/${height}`; return; }
    msg.textContent = 'No transaction with this hash, and no block among the latest 1,000.';
    return;
  }
  if (app() === 'bank' && /^[0-9a-f]{40}$/.test(hex)) { location.hash = `#/explorer/account/${hex}`; return; }
  if (app() === 'kv') { location.hash = `#/explorer/kv/${encodeURIComponent(q)}`; return; }
  msg.textContent = 'Not a height, a 64-digit hash or a 40-digit address.';
}

// findBlock looks for a block hash among the known blocks, then among the
// latest 1,000 (the API has no lookup by block hash).
async function findBlock(hash) {
  for (const b of live.blocks.values()) if (b.hash === hash) return b.height;
  const top = live.status?.height || 0;
  for (let to = top; to >= 1 && top - to < 1000; to -= 100) {
    // An answer may end early (its byte budget): page on from the next height.
    for (let from = Math.max(1, to - 99); from <= to;) {
      const r = await api(`/v1/blocks?from=${from}&to=${to}`);
      if (!r.ok) return 0;
      const b = r.body.blocks.find((x) => x.hash === hash);
      if (b) return b.height;
      if (!r.body.blocks.length) break;
      from = r.body.blocks[r.body.blocks.length - 1].height + 1;
    }
  }
  return 0;
}

async function submit() {
  const body = $('tx-body').value.trim();
  const msg = $('tx-msg');
  if (!body) return;
  msg.className = 'msg';
  msg.textContent = 'submitting…';
  const r = await api('/v1/txs', {method: 'POST', body, headers: {'Content-Type': 'text/plain'}});
  if (r.ok && r.body?.hash) {
    msg.textContent = `accepted: ${r.body.hash}`;
    $('tx-body').value = '';
    location.hash = `#/explorer/tx/${r.body.hash}`;
    return;
  }
  msg.className = 'msg error';
  msg.textContent = 'refused: ' + (r.body?.error || `error ${r.code}`);
}
