// The Byzantine Generals playground: a form over GET /v1/generals (the
// same code as `strategos generals`), the verdict, each general's
// decision, and who told whom what, round by round. Parameters live in the
// route (#/generals?...), so a run has a link.
import {$, fill, h} from './dom.js';
import {api} from './live.js';

const names = (id) => (id === 0 ? 'C' : 'L' + id);

export function init() {
  const form = $('gen-form');
  form.addEventListener('submit', (e) => { e.preventDefault(); run(); });
  for (const b of form.querySelectorAll('.preset')) {
    b.addEventListener('click', () => {
      $('gen-n').value = b.dataset.n;
      $('gen-t').value = b.dataset.t;
      $('gen-ids').value = '';
      $('gen-m').value = '';
      $('gen-exhaustive').checked = true;
      run();
    });
  }
}

// show runs the parameters of the route, if any.
export function show(_parts, params) {
  if ([...params.keys()].length) {
    const form = $('gen-form');
    for (const [k, v] of params) {
      const el = form.elements.namedItem(k);
      if (!el) continue;
      if (k === 'exhaustive') el.checked = v === 'true';
      else el.value = v; // radio groups (RadioNodeList) take a value too
    }
    run();
  }
  return null;
}

function query() {
  const form = $('gen-form');
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (k === 'exhaustive') continue;
    if (String(v).trim() !== '') q.set(k, String(v).trim());
  }
  if (q.has('traitor_ids')) q.delete('traitors');
  q.set('exhaustive', String($('gen-exhaustive').checked));
  q.set('trace', 'true');
  return q;
}

async function run() {
  const out = $('gen-result');
  const btn = $('gen-run');
  btn.disabled = true;
  fill(out, h('p', {class: 'msg'}, 'running…'));
  const q = query();
  const r = await api('/v1/generals?' + q);
  q.delete('trace');
  history.replaceState(null, '', '#/generals?' + q); // a link to this run
  btn.disabled = false;
  if (!r.ok) {
    fill(out, h('p', {class: 'msg error', role: 'alert', id: 'gen-verdict', dataset: {violation: 'error'}}, r.body?.error || `error ${r.code}`));
    return;
  }
  fill(out, result(r.body));
}

function verdict(res) {
  const broken = [!res.ic1 && 'IC1 (the loyal lieutenants disagree)', !res.ic2 && 'IC2 (a loyal lieutenant disobeyed the loyal commander)'].filter(Boolean);
  const searched = res.exhaustive ? ` in ${res.violations} of ${res.cases} cases` : '';
  if (broken.length) {
    return h('p', {id: 'gen-verdict', class: 'verdict bad', dataset: {violation: 'true'}},
      h('span', {'aria-hidden': 'true'}, '✕ '), h('strong', {}, 'Violation'), `: ${broken.join(' and ')} broken${searched}.`);
  }
  return h('p', {id: 'gen-verdict', class: 'verdict ok', dataset: {violation: 'false'}},
    h('span', {'aria-hidden': 'true'}, '✓ '), h('strong', {}, 'No violation'),
    `: IC1 and IC2 hold${res.exhaustive ? ` in all ${res.cases} cases` : ''}.`);
}

function result(res) {
  const traitors = new Set(res.traitors);
  const alg = res.algorithm.toUpperCase();
  const who = res.traitors.length ? res.traitors.map(names).join(', ') : 'none';
  const bound = res.algorithm === 'om'
    ? (res.generals > 3 * res.m ? `n = ${res.generals} > 3m = ${3 * res.m}: OM(${res.m}) is guaranteed to work with at most ${res.m} traitor(s)`
      : `n = ${res.generals} ≤ 3m = ${3 * res.m}: OM(${res.m}) is not guaranteed to work`)
    : `SM(${res.m}) works for any n with at most ${res.m} traitor(s)`;
  const how = res.exhaustive
    ? `every choice of the traitors (${res.cases} cases); below, case #${res.example_case}${res.violations ? ', the first that breaks' : ''}`
    : `traitors follow the "${res.strategy}" strategy`;
  const gens = [...Array(res.generals).keys()];
  return [
    verdict(res),
    h('p', {}, `${alg}(${res.m}) among ${res.generals} generals; the commander orders ${res.order}; traitors: ${who}; ${how}. ${res.messages} messages sent. ${bound}.`),
    h('div', {class: 'table-wrap', role: 'region', 'aria-label': 'Decisions', tabindex: '0'},
      h('table', {class: 'decisions'},
        h('caption', {}, 'Decisions'),
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'General'), h('th', {scope: 'col'}, 'Role'), h('th', {scope: 'col'}, 'Loyalty'), h('th', {scope: 'col'}, 'Decision'))),
        h('tbody', {}, gens.map((id) => h('tr', {class: traitors.has(id) ? 'byz' : ''},
          h('th', {scope: 'row'}, names(id)),
          h('td', {}, id === 0 ? 'commander' : 'lieutenant'),
          h('td', {}, traitors.has(id) ? h('span', {class: 'badge bad'}, h('span', {'aria-hidden': 'true'}, '⚠ '), 'traitor') : 'loyal'),
          h('td', {}, id === 0 ? `orders ${res.order}` : (res.decisions[String(id)] ?? '– (a traitor decides nothing)'))))))),
    trace(res.trace || []),
  ];
}

// The trace is text, one line per event, grouped under headings (lines
// that do not start with a space): "round 1: ...", "resolving OM(1): ...",
// "decisions:". A message line reads "OM(1) L1 -> L2: retreat (note)" or
// "SM C [traitor] -> L1: attack:C (note)".
const message = /^(?:OM\(\d+\)|SM) (\S+)( \[traitor\])? -> (\S+): (\S+)(?: (.*))?$/;

function trace(lines) {
  if (!lines.length) return '';
  const groups = [];
  for (const line of lines) {
    if (!line.startsWith(' ')) groups.push({title: line, items: []});
    else if (groups.length) groups[groups.length - 1].items.push(line.trim());
  }
  return h('section', {class: 'trace', 'aria-labelledby': 'trace-h'},
    h('h2', {id: 'trace-h'}, 'Who told whom what'),
    groups.map((g) => {
      const msgs = g.items.map((l) => l.match(message));
      const body = msgs.every(Boolean) && msgs.length
        ? h('div', {class: 'table-wrap', role: 'region', 'aria-label': g.title, tabindex: '0'},
          h('table', {class: 'messages'},
            h('thead', {}, h('tr', {}, ['From', 'To', 'Says', 'Note'].map((c) => h('th', {scope: 'col'}, c)))),
            h('tbody', {}, msgs.map((m) => {
              const lie = /\[traitor/.test(m[0]);
              const note = m[5] || '';
              const held = note.match(/\[traitor: ([^\]]*)\]/); // what a lying relay really received
              return h('tr', {class: lie ? 'lie' : ''},
                h('td', {}, m[1], lie ? [' ', h('span', {'aria-hidden': 'true'}, '⚠')] : ''),
                h('td', {}, m[3]),
                h('td', {}, h('strong', {}, m[4])),
                h('td', {}, lie ? h('span', {class: 'badge bad'}, '⚠ traitor' + (held ? ': ' + held[1] : '')) : '', lie ? ' ' : '',
                  note.replace(/\s*\[traitor[^\]]*\]/, '')));
            }))))
        : h('ul', {}, g.items.map((l) => h('li', {class: /traitor/.test(l) ? 'lie' : ''}, l)));
      const empty = g.items.length === 1 && g.items[0] === '(no messages)';
      return h('section', {class: 'trace-group'}, h('h3', {}, g.title), empty ? h('p', {}, 'no messages') : body);
    }));
}
