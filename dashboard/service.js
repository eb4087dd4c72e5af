// The page of one service: where it runs, where placement wants it, and
// why each node is or is not a candidate (`domianctl explain --json`).
import { api } from './api.js';
import { h, message } from './dom.js';

function table(headings, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', {}, h('thead', {}, h('tr', {}, headings.map((name) => h('th', {}, name)))), h('tbody', {}, rows)),
  );
}

function serviceLink(name) {
  return h('a', { href: `#/service/${encodeURIComponent(name)}` }, name);
}

function running(rows) {
  if (!rows.length) return h('p', { class: 'quiet' }, 'Runs nowhere.');
  return table(
    ['node', 'state', 'epoch', 'endpoint', 'detail'],
    rows.map((row) =>
      h(
        'tr',
        {},
        h('td', {}, row.node || '–'),
        h('td', {}, h('span', { class: ['svc-state', `svc-${row.state}`] }, row.state)),
        h('td', {}, String(row.epoch)),
        h('td', {}, row.endpoint || ''),
        h('td', { class: 'detail' }, row.detail || ''),
      ),
    ),
  );
}

function verdicts(explain) {
  const chosen = explain.chosen || [];
  return table(
    ['node', 'candidate', 'why'],
    (explain.verdicts || []).map((verdict) =>
      h(
        'tr',
        { class: verdict.candidate ? 'candidate' : 'refused', data: { node: verdict.node } },
        h('td', {}, verdict.node, chosen[0] === verdict.node ? h('span', { class: 'here' }, 'wanted here') : null),
        h('td', {}, verdict.candidate ? 'yes' : 'no'),
        h('td', {}, verdict.reason || ''),
      ),
    ),
  );
}

function stateCopies(copies) {
  if (!copies) return null;
  const parts = [h('h3', {}, 'State')];
  if (copies.error) parts.push(h('p', { class: 'error' }, copies.error));
  for (const owner of copies.owners || []) {
    parts.push(h('p', {}, `${owner.node} (epoch ${owner.epoch}) started from ${owner.started_from || 'nothing'}`));
  }
  for (const aside of copies.set_aside || []) {
    parts.push(h('p', { class: 'warning' },
      `${aside.node} set aside version ${aside.version} (lost to ${aside.lost_to}) in ${aside.file}`));
  }
  return parts.length > 1 ? parts : null;
}

function render(explain) {
  const depends = explain.depends || [];
  const facts = [
    ['placement', explain.placement || 'no node has its plugin'],
    ['wanted', explain.wanted ? 'yes' : 'no'],
    ['state', explain.state],
    ['wanted on', (explain.chosen || []).join(', ') || '–'],
  ];
  return [
    h('h2', {}, explain.service),
    explain.detail ? h('p', { class: 'detail-line' }, explain.detail) : null,
    h('dl', { class: 'facts wide' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    h('h3', {}, 'Runs on'),
    running(explain.running || []),
    h('h3', {}, 'Each node'),
    verdicts(explain),
    h('h3', {}, 'Depends on'),
    depends.length
      ? h('ul', { class: 'depends' }, depends.map((name) => h('li', {}, serviceLink(name))))
      : h('p', { class: 'quiet' }, 'nothing'),
    stateCopies(explain.state_copies),
  ];
}

// The page for `name`: loads at once, and again on refresh() (app.js
// calls it when an event may have changed the answer).
export class ServicePage {
  constructor(name, onNeedsLogin) {
    this.name = name;
    this.onNeedsLogin = onNeedsLogin;
    this.body = h('div', { class: 'service-body' }, h('p', { class: 'quiet' }, 'Asking where it runs…'));
    this.element = h(
      'section',
      { class: 'service-page', data: { service: name } },
      h('p', {}, h('a', { href: '#/' }, '← the house')),
      this.body,
    );
    this.refresh();
  }

  async refresh() {
    try {
      const explain = await api.explain(this.name);
      this.body.replaceChildren(...render(explain).flat().filter(Boolean));
    } catch (error) {
      if (this.onNeedsLogin(error)) return;
      this.body.replaceChildren(h('h2', {}, this.name), h('p', { class: 'error' }, message(error)));
    }
  }
}
