// live holds what the page knows about the network, refreshed from the
// node's public API: its status every second, the validator set once, the
// evidence every few seconds, the committed blocks as the height grows,
// and the /v1/events stream. Views subscribe with on(kind, fn).

const listeners = new Map();

export const live = {
  status: null,          // the latest GET /v1/status
  validators: [],        // GET /v1/validators
  evidence: [],          // GET /v1/evidence
  blocks: new Map(),     // height -> block, the most recent ones
  samples: [],           // {t, txs, height}: one per status poll, last 6 minutes
  heard: new Map(),      // validator -> {what, height, round, t}: the latest sign of it in the event stream
  reachable: null,       // whether the last status poll answered
  stream: 'connecting',  // the event stream: connecting, open, retrying, unavailable
  started: Date.now(),
};

export function on(kind, fn) {
  if (!listeners.has(kind)) listeners.set(kind, []);
  listeners.get(kind).push(fn);
}

function emit(kind, data) {
  for (const fn of listeners.get(kind) || []) {
    try { fn(data); } catch (e) { console.error(kind, e); }
  }
}

// api calls the node's API and returns {ok, code, body}; a network error
// answers code 0.
export async function api(path, init = {}) {
  try {
    const r = await fetch(path, {cache: 'no-store', signal: AbortSignal.timeout(15000), ...init});
    let body = null;
    try { body = await r.json(); } catch { /* not JSON */ }
    return {ok: r.ok, code: r.status, body};
  } catch (e) {
    return {ok: false, code: 0, body: {error: 'cannot reach the node: ' + e.message}};
  }
}

// Byzantine facts: this node's own behaviour, and proofs it holds.
export function byzantine(i) {
  const st = live.status;
  if (st && st.node === i && st.behavior && st.behavior !== 'honest') {
    return {how: 'runs the "' + st.behavior + '" behaviour (this node)'};
  }
  const proofs = live.evidence.filter((e) => e.validator === i);
  if (proofs.length || (st && (st.proven_byzantine || []).includes(i))) {
    const kinds = [...new Set(proofs.map((e) => e.kind))].join(', ') || 'misbehaviour';
    return {how: 'proven: ' + kinds, proofs};
  }
  return null;
}

export function quorum(n) {
  const f = Math.floor((n - 1) / 3);
  return {n, f, q: n - f};
}

const sampleWindow = 6 * 60 * 1000;
const keepBlocks = 2000;
let fetchedTo = 0;

async function pollStatus() {
  const r = await api('/v1/status');
  const was = live.reachable;
  live.reachable = r.ok;
  if (r.ok) {
    const prev = live.status;
    live.status = r.body;
    const now = Date.now();
    live.samples.push({t: now, txs: r.body.txs_committed || 0, height: r.body.height});
    while (live.samples.length && now - live.samples[0].t > sampleWindow) live.samples.shift();
    emit('status', r.body);
    if (!prev || prev.height !== r.body.height) fetchBlocks(r.body.height);
  }
  if (was !== live.reachable) emit('reachable', live.reachable);
  setTimeout(pollStatus, 1000);
}

let fetching = false;
async function fetchBlocks(height) {
  if (fetching || height <= fetchedTo) return;
  fetching = true;
  try {
    const from = Math.max(fetchedTo + 1, height - 99, 1);
    const r = await api(`/v1/blocks?from=${from}&to=${height}`);
    if (r.ok) {
      for (const b of r.body.blocks) {
        live.blocks.set(b.height, b);
        fetchedTo = Math.max(fetchedTo, b.height);
      }
      for (const h of live.blocks.keys()) {
        if (live.blocks.size <= keepBlocks) break;
        live.blocks.delete(h); // Map keeps insertion order: oldest first
      }
      for (const b of r.body.blocks) noteHeard(b.proposer, 'proposed a committed block', b.height, b.round, Date.parse(b.time));
      emit('blocks', r.body.blocks);
    }
  } finally {
    fetching = false;
  }
}

async function loadValidators() {
  const r = await api('/v1/validators');
  if (!r.ok) { setTimeout(loadValidators, 2000); return; }
  live.validators = r.body.validators;
  emit('validators', live.validators);
}

async function pollEvidence() {
  const r = await api('/v1/evidence');
  if (r.ok) {
    const before = live.evidence.length;
    live.evidence = r.body.evidence || [];
    if (live.evidence.length !== before) emit('evidence', live.evidence);
  }
  setTimeout(pollEvidence, 3000);
}

function noteHeard(v, what, height, round, t = Date.now()) {
  if (v === undefined || v === null) return;
  const old = live.heard.get(v);
  if (old && (round ?? 0) < (old.round ?? 0)) return; // keep the furthest round
  live.heard.set(v, {what, height: height ?? old?.height, round: round ?? old?.round, t});
}

// The event stream. EventSource reconnects by itself after a dropped
// connection, but not after an error status (say the node is restarting
// or serves no stream): then the page retries itself, backing off.
let retry = 1000;
function connectEvents() {
  const es = new EventSource('/v1/events');
  setStream('connecting');
  es.onopen = () => { retry = 1000; setStream('open'); };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    learn(ev);
    emit('event', ev);
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      setStream('retrying');
      setTimeout(connectEvents, retry);
      retry = Math.min(retry * 2, 15000);
    } else {
      setStream('retrying'); // the browser reconnects by itself
    }
  };
}

function setStream(s) {
  if (live.stream === s) return;
  live.stream = s;
  emit('stream', s);
}

// learn updates what the page knows of each validator from one event.
function learn(ev) {
  switch (ev.type) {
    case 'proposal': noteHeard(ev.validator, 'proposed', ev.height, ev.round); break;
    case 'vote': noteHeard(ev.validator, 'voted', ev.height, ev.round); break;
    case 'timeout': noteHeard(ev.validator, 'timed out', undefined, ev.round); break;
    case 'qc': for (const s of ev.signers || []) noteHeard(s, 'signed a QC', ev.height, ev.round); break;
    case 'tc': for (const s of ev.signers || []) noteHeard(s, 'signed a TC', undefined, ev.round); break;
    case 'evidence': pollEvidenceSoon(); break;
  }
}

let evidenceSoon = null;
function pollEvidenceSoon() {
  if (evidenceSoon) return;
  evidenceSoon = setTimeout(async () => {
    evidenceSoon = null;
    const r = await api('/v1/evidence');
    if (r.ok) { live.evidence = r.body.evidence || []; emit('evidence', live.evidence); }
  }, 200);
}

export function start() {
  pollStatus();
  loadValidators();
  pollEvidence();
  connectEvents();
}
