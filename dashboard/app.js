// The dashboard: what the node serving it knows about the cluster, kept up
// to date from its event stream, and the controls of the house's services.
//
//   #/               the house: the cluster view and the controls
//   #/service/NAME   one service: where it runs and why (explain)
//
// Data comes from /api/* (api.js). /api/events (Server-Sent Events) says
// when something changed: a member, placement or health event causes one
// refetch of peers and services, however many came within
// kRefetchDebounceMs; `lost` (events were dropped) refetches everything.
import { api, NeedsLogin } from './api.js';
import { renderCluster } from './cluster.js';
import { Controls } from './controls.js';
import { h, message } from './dom.js';
import { ServicePage } from './service.js';

const kRefetchDebounceMs = 200;
const kReconnectMs = 3000;       // after the stream was refused or closed
// Without events nothing changes but uptimes and last-heard times.
const kSafetyRefreshMs = 60000;
const kRefetchKinds = ['member', 'placement', 'health'];
// Set once the cluster view first shows data (bench/dashboard_bench.cc).
const kRenderedMark = 'domian-cluster-rendered';

const data = { status: null, peers: [], services: [], fetchedAt: 0, error: '' };
const view = document.getElementById('view');
const live = document.getElementById('live');
const problem = document.getElementById('problem');
const clusterBox = h('div', { class: 'cluster-box' }, h('p', { class: 'quiet' }, 'Asking the node…'));
const controls = new Controls({ onNeedsLogin });
let page = null;       // the service page shown, if any
let events = null;     // the EventSource
let opens = 0;
let loggedOut = false;
let refetchTimer = null;
let fetching = false;
let fetchAgain = false;

function onNeedsLogin(error) {
  if (!(error instanceof NeedsLogin)) return false;
  if (!loggedOut) {
    loggedOut = true;
    if (events) events.close();
    events = null;
    setLive('logged-out', 'not logged in');
    problem.hidden = true;
    view.replaceChildren(loginPage());
  }
  return true;
}

function loginPage() {
  return h(
    'section',
    { class: 'login', data: { role: 'login' } },
    h('h2', {}, 'Open the link from domianctl dashboard'),
    h('p', {}, 'This page shows and controls the house, so it opens only with a login link made on one of its nodes. ' +
      'On the node that serves this page, as root or a member of the domian group, run:'),
    h('pre', {}, h('code', {}, 'domianctl dashboard')),
    h('p', {}, 'and open the link it prints in this browser within 5 minutes. Each link works once; run it again for another browser.'),
  );
}

function setLive(state, text) {
  live.dataset.state = state;
  live.textContent = text;
}

// Peers and services (and this node's status when `withStatus`).
async function refresh(withStatus) {
  try {
    const [status, peers, services] = await Promise.all([
      withStatus || !data.status ? api.status() : data.status, api.peers(), api.services(),
    ]);
    Object.assign(data, { status, peers, services, fetchedAt: performance.now(), error: '' });
  } catch (error) {
    if (onNeedsLogin(error)) return;
    data.error = message(error);
  }
  render();
  if (page) page.refresh();
}

// One refresh at a time; asked again meanwhile, one more after it.
async function refreshNow(withStatus = false) {
  if (fetching) {
    fetchAgain = true;
    return;
  }
  fetching = true;
  try {
    await refresh(withStatus);
  } finally {
    fetching = false;
  }
  if (fetchAgain) {
    fetchAgain = false;
    scheduleRefresh();
  }
}

function scheduleRefresh() {
  if (refetchTimer) return;
  refetchTimer = setTimeout(() => {
    refetchTimer = null;
    refreshNow();
  }, kRefetchDebounceMs);
}

function render() {
  if (loggedOut) return;
  problem.hidden = !data.error;
  problem.textContent = data.error ? `The node did not answer: ${data.error}` : '';
  if (!data.status) return;
  const ageS = (performance.now() - data.fetchedAt) / 1000;
  clusterBox.replaceChildren(renderCluster(data, ageS));
  controls.update(data.services);
  if (!document.documentElement.dataset.ready) {
    document.documentElement.dataset.ready = 'true';
    performance.mark(kRenderedMark);
  }
}

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return {};
  }
}

function connect() {
  if (loggedOut) return;
  events = new EventSource('/api/events');
  events.addEventListener('open', () => {
    setLive('live', 'live');
    // Whatever happened while the stream was down.
    if (opens++ > 0) refreshNow(true);
  });
  for (const kind of kRefetchKinds) {
    events.addEventListener(kind, (event) => {
      scheduleRefresh();
      const about = parse(event);
      if (about.service) controls.onEvent(about.service);
    });
  }
  events.addEventListener('plugin', (event) => {
    const about = parse(event);
    if (about.service) controls.onEvent(about.service);
  });
  events.addEventListener('lost', () => refreshNow(true));
  events.addEventListener('error', () => {
    if (events && events.readyState === EventSource.CLOSED) {
      // Refused (a session that ended, a node restarting): the browser
      // does not retry that by itself. The refresh finds out which.
      events.close();
      events = null;
      setLive('down', 'reconnecting…');
      refreshNow(true);
      setTimeout(() => {
        if (!events) connect();
      }, kReconnectMs);
    } else {
      setLive('down', 'reconnecting…');  // the browser retries
    }
  });
}

function route() {
  if (loggedOut) return;
  const match = location.hash.match(/^#\/service\/([^/]+)$/);
  if (match) {
    page = new ServicePage(decodeURIComponent(match[1]), onNeedsLogin);
    view.dataset.view = 'service';
    view.replaceChildren(page.element);
  } else {
    page = null;
    view.dataset.view = 'house';
    view.replaceChildren(clusterBox, controls.element);
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
refreshNow(true).then(connect);
setInterval(() => {
  if (!document.hidden) refreshNow(true);
}, kSafetyRefreshMs);
