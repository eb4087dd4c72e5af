// The cluster view: every node this node knows (itself from /api/status,
// the others from /api/peers), its state, traits, uptime and the services
// it runs with their ownership epochs; then every service, wanted ones
// that run nowhere included.
import { h, duration } from './dom.js';

// Membership's states, in the words and colours the page uses.
const kStates = {
  alive: 'alive',
  suspect: 'suspect',
  dead: 'dead',
};

// One entry per node: the asked node first, then its peers by id.
// `ageS`: seconds since the data was fetched (uptimes move on meanwhile).
export function nodesOf(data, ageS = 0) {
  const nodes = [];
  if (data.status) {
    const self = data.status;
    nodes.push({
      id: self.id,
      state: 'alive',
      here: true,
      address: self.address,
      version: self.version,
      traits: self.traits || [],
      uptimeS: typeof self.uptime_s === 'number' ? self.uptime_s + ageS : null,
    });
  }
  const peers = [...(data.peers || [])].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  for (const peer of peers) {
    const state = kStates[peer.state] ? peer.state : 'dead';
    nodes.push({
      id: peer.id,
      state,
      left: Boolean(peer.left),
      address: peer.address,
      version: peer.version,
      traits: peer.traits || [],
      // Only while alive: a dead node's uptime is not known.
      uptimeS: state !== 'dead' && typeof peer.uptime_s === 'number' ? peer.uptime_s + ageS : null,
      // When it was last heard from, on this browser's clock.
      heardAt: typeof peer.last_heard_s === 'number' ? Date.now() - (ageS + peer.last_heard_s) * 1000 : null,
    });
  }
  return nodes;
}

function stateLabel(node) {
  return node.state === 'dead' && node.left ? 'dead (left)' : node.state;
}

function serviceLink(row) {
  return h('a', { href: `#/service/${encodeURIComponent(row.name)}` }, row.name);
}

function clockTime(ms) {
  const date = new Date(ms);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function nodeCard(node, rows) {
  const facts = [
    ['address', node.address || '–'],
    ['version', node.version || '–'],
  ];
  if (node.uptimeS !== null) facts.push(['up', duration(node.uptimeS)]);
  // A node that went quiet: since when (an alive one was heard just now).
  if (node.state !== 'alive' && node.heardAt !== null) facts.push(['heard', `at ${clockTime(node.heardAt)}`]);
  return h(
    'article',
    { class: ['node', `state-${node.state}`], data: { node: node.id, state: node.state } },
    h(
      'header',
      {},
      h('h3', {}, node.id, node.here ? h('span', { class: 'here', title: 'the node serving this page' }, 'this node') : null),
      h('span', { class: ['badge', `state-${node.state}`], data: { role: 'state' } }, stateLabel(node)),
    ),
    h('dl', { class: 'facts' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    node.traits.length
      ? h('ul', { class: 'traits', 'aria-label': 'traits' }, node.traits.map((trait) => h('li', {}, trait)))
      : null,
    rows.length
      ? h(
          'ul',
          { class: 'runs', 'aria-label': 'runs' },
          rows.map((row) =>
            h(
              'li',
              { data: { service: row.name } },
              serviceLink(row),
              h('span', { class: ['svc-state', `svc-${row.state}`] }, row.state),
              h('span', { class: 'epoch', title: 'ownership epoch' }, `epoch ${row.epoch}`),
            ),
          ),
        )
      : h('p', { class: 'quiet' }, 'runs nothing'),
  );
}

function servicesTable(rows) {
  if (!rows.length) return h('p', { class: 'quiet' }, 'No services in the cluster.');
  const sorted = [...rows].sort((a, b) => a.name.localeCompare(b.name) || String(a.node).localeCompare(String(b.node)));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'services' },
      h('thead', {}, h('tr', {}, ['service', 'node', 'state', 'epoch', 'detail'].map((name) => h('th', {}, name)))),
      h(
        'tbody',
        {},
        sorted.map((row) =>
          h(
            'tr',
            { data: { service: row.name, node: row.node || '' } },
            h('td', {}, serviceLink(row)),
            h('td', {}, row.node || '–'),
            h('td', {}, h('span', { class: ['svc-state', `svc-${row.state}`] }, row.state)),
            h('td', {}, row.node ? String(row.epoch) : '–'),
            h('td', { class: 'detail' }, row.detail || ''),
          ),
        ),
      ),
    ),
  );
}

// The whole view, from the data app.js keeps.
export function renderCluster(data, ageS) {
  const nodes = nodesOf(data, ageS);
  const rows = data.services || [];
  const counts = { alive: 0, suspect: 0, dead: 0 };
  for (const node of nodes) counts[node.state] += 1;
  const summary = `${nodes.length} node${nodes.length === 1 ? '' : 's'}: ` +
    Object.entries(counts).filter(([, n]) => n).map(([state, n]) => `${n} ${state}`).join(', ');
  return h(
    'section',
    { class: 'cluster', id: 'cluster', 'aria-labelledby': 'cluster-title' },
    h('h2', { id: 'cluster-title' }, data.status ? `Cluster ${data.status.cluster}` : 'Cluster',
      h('span', { class: 'summary' }, summary)),
    h('div', { class: 'nodes' }, nodes.map((node) => nodeCard(node, rows.filter((row) => row.node === node.id)))),
    h('h2', {}, 'Services'),
    servicesTable(rows),
  );
}
