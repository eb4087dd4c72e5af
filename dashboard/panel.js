// What every control panel shares: a card with a title, where its service
// runs, a body, and an error line that shows a failed call in words; calls
// through /api/call; a refresh timer that sleeps while the page is hidden.
import { api } from './api.js';
import { h, message } from './dom.js';

export class Panel {
  // `context.onNeedsLogin(error)`: true when the error means no session
  // (the app then shows how to log in, and the panel says nothing).
  constructor(service, title, context) {
    this.service = service;
    this.context = context;
    this.where = h('span', { class: 'where' });
    this.body = h('div', { class: 'panel-body' });
    this.errorLine = h('p', { class: 'error', role: 'alert', hidden: true });
    this.element = h(
      'section',
      { class: ['panel', `panel-${service}`], data: { panel: service } },
      h('header', {}, h('h3', {}, h('a', { href: `#/service/${service}` }, title)), this.where),
      this.body,
      this.errorLine,
    );
    this.timers = [];
  }

  // The reply of `command`, or null when it failed (the error is shown).
  async call(command, args = {}) {
    try {
      const reply = await api.call(this.service, command, args);
      this.showError(null);
      return reply;
    } catch (error) {
      if (!this.context.onNeedsLogin(error)) this.showError(error);
      return null;
    }
  }

  showError(error) {
    this.errorLine.hidden = !error;
    this.errorLine.textContent = error ? message(error) : '';
  }

  // Runs `task` now and every `ms` while the page is visible.
  every(ms, task) {
    task();
    this.timers.push(setInterval(() => {
      // Not while nobody can see it (a hidden tab, another view).
      if (!document.hidden && this.element.isConnected) task();
    }, ms));
  }

  // Where the service runs, from the services rows (app.js calls this
  // whenever they change).
  update(rows) {
    const running = rows.filter((row) => row.node);
    this.where.textContent = running.length
      ? `on ${running.map((row) => row.node).join(', ')}`
      : 'runs nowhere now';
    this.rows = rows;
  }

  // An event about this service (a plugin's, or its health on a node).
  onEvent() {}

  destroy() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }
}

// A button that runs `action` and stays disabled until it settles, so a
// double tap on a phone sends one command.
export function actionButton(label, action, props = {}) {
  const button = h('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action(button);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
