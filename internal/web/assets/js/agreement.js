// The live agreement view: one card per round, built from the event
// stream, showing the proposal, the votes towards the quorum, the QC, the
// timeouts and TC of a failed round, the commits, and misbehaviour where
// it happens.
import {$, clock, fill, h, short, throttle} from './dom.js';
import {byzantine, live, on, quorum} from './live.js';

const keepRounds = 40, showRounds = 12, keepLog = 100;
const rounds = new Map(); // round -> record
const log = [];
let visible = false, paused = false, dropped = 0;

function record(r) {
  let rec = rounds.get(r);
  if (!rec) {
    rec = {round: r, leader: undefined, proposals: [], votes: new Map(), qc: null, timeouts: new Map(), tc: null,
      commits: [], evidence: [], conflicts: [], first: Date.now()};
    rounds.set(r, rec);
    for (const old of [...rounds.keys()].sort((a, b) => a - b)) {
      if (rounds.size <= keepRounds) break;
      rounds.delete(old);
    }
  }
  return rec;
}

function take(ev) {
  if (ev.type === 'dropped') { dropped += ev.count || 0; return; }
  if (ev.round === undefined || ev.round === null) return;
  const rec = record(ev.round);
  switch (ev.type) {
    case 'round': rec.leader = ev.leader; break;
    case 'proposal': {
      if (rec.leader === undefined) rec.leader = ev.validator;
      const same = rec.proposals.find((p) => p.validator === ev.validator);
      if (same && same.block_hash !== ev.block_hash) rec.conflicts.push(`validator ${ev.validator} proposed two different blocks`);
      if (!rec.proposals.some((p) => p.block_hash === ev.block_hash)) rec.proposals.push(ev);
      break;
    }
    case 'vote': {
      const old = rec.votes.get(ev.validator);
      if (old && old.block_hash !== ev.block_hash) rec.conflicts.push(`validator ${ev.validator} voted for two different blocks`);
      rec.votes.set(ev.validator, ev);
      break;
    }
    case 'qc': rec.qc = ev; break;
    case 'timeout': rec.timeouts.set(ev.validator, ev); break;
    case 'tc': rec.tc = ev; break;
    case 'commit': rec.commits.push(ev); break;
    case 'evidence': rec.evidence.push(ev); break;
  }
}

export function init() {
  const render = throttle(() => visible && !paused && draw(), 250);
  on('event', (ev) => {
    take(ev);
    log.unshift(ev);
    if (log.length > keepLog) log.length = keepLog;
    render();
  });
  on('stream', () => visible && streamLine());
  on('status', render);
  $('ag-pause').addEventListener('click', (e) => {
    paused = !paused;
    e.currentTarget.setAttribute('aria-pressed', String(paused));
    e.currentTarget.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) draw();
  });
}

export function show() {
  visible = true;
  draw();
}

export function hide() { visible = false; }

function streamLine() {
  const text = {
    connecting: 'event stream: connecting…',
    open: 'event stream: live',
    retrying: 'event stream: reconnecting…',
  }[live.stream] || 'event stream: ' + live.stream;
  const el = $('ag-stream');
  el.textContent = (live.stream === 'open' ? '● ' : '○ ') + text;
  el.className = 'stream ' + live.stream;
}

function draw() {
  streamLine();
  const n = live.status ? live.status.validators : live.validators.length;
  const {f, q} = quorum(n || 1);
  $('ag-quorum').textContent = `2f+1 = ${q} of ${n}`;
  $('ag-notice').textContent = dropped
    ? `The node dropped ${dropped} event(s) for this page (it could not keep up); some rounds below may be incomplete.` : '';
  const recent = [...rounds.values()].sort((a, b) => b.round - a.round).slice(0, showRounds);
  if (!recent.length) {
    fill($('rounds'), h('li', {class: 'empty'}, live.stream === 'open' ? 'waiting for the next round…' : 'waiting for the event stream…'));
  } else {
    fill($('rounds'), recent.map((rec) => card(rec, n, f, q)));
  }
  fill($('event-log'), log.map((ev) => h('tr', {},
    h('td', {}, ev.time_ms ? clock(ev.time_ms) : ''),
    h('td', {}, ev.type),
    h('td', {}, describe(ev)))));
}

function describe(ev) {
  const parts = [];
  for (const k of ['height', 'round', 'validator', 'leader', 'proposer', 'kind', 'txs', 'qc_round', 'high_qc_round', 'count']) {
    if (ev[k] !== undefined && ev[k] !== null) parts.push(`${k} ${Array.isArray(ev[k]) ? ev[k].length : ev[k]}`);
  }
  if (ev.block_hash) parts.push('block ' + short(ev.block_hash, 8));
  if (ev.signers) parts.push('signers ' + ev.signers.join(','));
  return parts.join(' · ');
}

function phase(rec, q) {
  if (rec.commits.length) return {text: 'committed', icon: '✓', cls: 'done'};
  if (rec.qc) return {text: 'certified', icon: '✓', cls: 'qc'};
  if (rec.tc) return {text: 'timed out (TC)', icon: '⏱', cls: 'failed'};
  if (rec.timeouts.size) return {text: `timing out (${rec.timeouts.size} of ${q})`, icon: '⏱', cls: 'failing'};
  if (rec.proposals.length) return {text: 'voting', icon: '…', cls: 'voting'};
  return {text: 'waiting for a proposal', icon: '…', cls: 'waiting'};
}

function chips(n, has, title) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const yes = has(i);
    const byz = byzantine(i);
    out.push(h('li', {class: 'chip ' + (yes ? 'yes' : 'no') + (byz ? ' byz' : ''),
      title: `validator ${i}: ${yes ? title : 'not seen'}${byz ? ' (Byzantine)' : ''}`},
    h('span', {'aria-hidden': 'true'}, yes ? '✓' : '·'), ` ${i}`, byz ? h('span', {class: 'sr'}, ' (Byzantine)') : '',
    h('span', {class: 'sr'}, yes ? ` ${title}` : ' not seen')));
  }
  return out;
}

function card(rec, n, f, q) {
  const ph = phase(rec, q);
  const signers = new Set(rec.qc ? rec.qc.signers || [] : []);
  const voted = (i) => rec.votes.has(i) || signers.has(i);
  const votes = [...Array(n).keys()].filter(voted).length;
  const leader = rec.leader !== undefined ? `leader: validator ${rec.leader}` : 'leader unknown';
  const items = [];

  if (rec.proposals.length) {
    for (const p of rec.proposals) {
      items.push(h('li', {class: 'step proposal'}, h('strong', {}, 'Proposal'), ` validator ${p.validator} proposed `,
        h('a', {href: `#/explorer/block/${p.height}`}, `block ${p.height}`), ` (${short(p.block_hash, 8)})`,
        `, ${p.txs ?? 0} tx${p.txs === 1 ? '' : 's'}, extending the QC of round ${p.qc_round ?? '?'}`));
    }
  } else {
    items.push(h('li', {class: 'step pending'}, h('strong', {}, 'Proposal'), ' not seen yet'));
  }
  items.push(h('li', {class: 'step votes'}, h('strong', {}, 'Votes'),
    votes >= q ? ` ${votes} seen: quorum of ${q} reached` : ` ${votes} seen, ${q} needed`, ' ',
    h('progress', {max: q, value: Math.min(votes, q), 'aria-label': `votes: ${votes} of ${q} needed`}),
    h('ul', {class: 'chips', 'aria-label': 'validators'}, chips(n, voted, 'voted'))));
  if (rec.qc) {
    items.push(h('li', {class: 'step qc'}, h('strong', {}, 'Quorum certificate'),
      ` for block ${rec.qc.height ?? ''} (${short(rec.qc.block_hash, 8)}), signed by ${[...signers].sort((a, b) => a - b).join(', ')}`));
  }
  if (rec.timeouts.size || rec.tc) {
    const tcs = new Set(rec.tc ? rec.tc.signers || [] : []);
    const timedOut = (i) => rec.timeouts.has(i) || tcs.has(i);
    const count = [...Array(n).keys()].filter(timedOut).length;
    items.push(h('li', {class: 'step timeouts'}, h('strong', {}, 'Timeouts'), ` ${count} seen, ${q} make a TC`,
      h('ul', {class: 'chips', 'aria-label': 'validators that timed out'}, chips(n, timedOut, 'timed out'))));
  }
  if (rec.tc) {
    items.push(h('li', {class: 'step tc'}, h('strong', {}, 'Timeout certificate'),
      ` signed by ${(rec.tc.signers || []).join(', ')}: the round failed and the next leader takes over`));
  }
  for (const c of rec.commits) {
    items.push(h('li', {class: 'step commit'}, h('strong', {}, 'Commit'), ' ',
      h('a', {href: `#/explorer/block/${c.height}`}, `block ${c.height}`),
      ` (${short(c.block_hash, 8)}, ${c.txs ?? 0} tx${c.txs === 1 ? '' : 's'}) is final: its child is certified too (2-chain)`));
  }
  for (const c of rec.conflicts) {
    items.push(h('li', {class: 'step misbehaviour'}, h('strong', {}, '⚠ Equivocation seen'), ' ', c));
  }
  for (const e of rec.evidence) {
    items.push(h('li', {class: 'step misbehaviour'}, h('strong', {}, '⚠ Evidence'),
      ` validator ${e.validator}: ${e.kind}${e.height ? ' at height ' + e.height : ''}, proven by its own two signatures`));
  }
  return h('li', {class: 'round ' + ph.cls, dataset: {round: rec.round}},
    h('article', {'aria-label': `round ${rec.round}`},
      h('header', {},
        h('h2', {}, `Round ${rec.round}`),
        h('span', {class: 'leader'}, leader),
        h('span', {class: 'phase ' + ph.cls}, h('span', {'aria-hidden': 'true'}, ph.icon + ' '), ph.text)),
      h('ol', {class: 'steps'}, items)));
}
