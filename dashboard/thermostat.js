// Thermostat (plugins/thermostat): the room temperature, the target (set
// in half degrees), the mode, the relay, a standing alarm, and a chart of
// the last hours from the plugin's `history`.
import { drawChart } from './chart.js';
import { h } from './dom.js';
import { Panel, actionButton } from './panel.js';

// The plugin keeps a sample at most every 30 s: refreshing more often
// would redraw the same chart.
const kRefreshMs = 30000;
const kTargetStepC = 0.5;
const kMinTargetC = 5;   // the plugin's bounds for set_target
const kMaxTargetC = 30;
const kRanges = [1, 6, 24];  // hours the chart can show (history takes 1 to 24)

function celsius(value) {
  return typeof value === 'number' ? `${value.toFixed(1)} °C` : '–';
}

export class ThermostatPanel extends Panel {
  constructor(context) {
    super('thermostat', 'Thermostat', context);
    this.hours = 6;
    this.reading = h('p', { class: 'big', data: { role: 'temperature' } }, '–');
    this.relay = h('span', { class: 'relay', data: { role: 'relay' } });
    this.target = h('output', { class: 'target', data: { role: 'target' } }, '–');
    this.modes = h('span', { class: 'segmented', role: 'group', 'aria-label': 'mode' },
      ['heat', 'off'].map((mode) => actionButton(mode === 'heat' ? 'Heat' : 'Off',
        () => this.apply('set_mode', { mode }), { data: { mode } })));
    this.alarm = h('div', { class: 'alarm', hidden: true });
    this.warnings = h('ul', { class: 'warnings' });
    this.chart = h('div', { class: 'chart-box', data: { role: 'chart' } });
    const range = h('select', { 'aria-label': 'chart range', on: { change: (event) => {
      this.hours = Number(event.target.value);
      this.loadHistory();
    } } }, kRanges.map((hours) => h('option', { value: String(hours), selected: hours === this.hours }, `last ${hours} h`)));
    this.body.append(
      h('div', { class: 'thermo-row' }, this.reading, this.relay),
      h('div', { class: 'thermo-row' },
        h('span', { class: 'label' }, 'target'),
        actionButton('−', () => this.step(-kTargetStepC), { 'aria-label': 'lower the target', data: { target: 'down' } }),
        this.target,
        actionButton('+', () => this.step(kTargetStepC), { 'aria-label': 'raise the target', data: { target: 'up' } }),
        this.modes),
      this.alarm,
      this.warnings,
      h('div', { class: 'chart-head' }, h('span', { class: 'legend' },
        h('span', { class: 'key key-temperature' }, 'room'), h('span', { class: 'key key-target' }, 'target'),
        h('span', { class: 'key key-relay' }, 'heating on')), range),
      this.chart,
    );
    this.every(kRefreshMs, () => this.load());
  }

  async load() {
    const status = await this.call('status');
    if (status) this.show(status);
    await this.loadHistory();
  }

  async loadHistory() {
    const history = await this.call('history', { hours: this.hours });
    if (history) this.chart.replaceChildren(drawChart(history.samples || [], this.hours));
  }

  // A command whose reply is the status document.
  async apply(command, args) {
    const status = await this.call(command, args);
    if (status) this.show(status);
  }

  async step(by) {
    if (typeof this.targetC !== 'number') return;
    const next = Math.min(kMaxTargetC, Math.max(kMinTargetC, Math.round((this.targetC + by) * 2) / 2));
    if (next !== this.targetC) await this.apply('set_target', { target_c: next });
  }

  show(status) {
    this.targetC = status.target_c;
    this.reading.textContent = typeof status.temperature_c === 'number'
      ? celsius(status.temperature_c)
      : `no temperature: ${status.temperature_problem || 'no reading yet'}`;
    this.reading.classList.toggle('no-reading', typeof status.temperature_c !== 'number');
    const on = Boolean(status.relay && status.relay.on);
    this.relay.textContent = on ? 'heating on' : 'heating off';
    this.relay.dataset.on = String(on);
    this.relay.classList.toggle('on', on);
    this.target.textContent = celsius(status.target_c);
    for (const button of this.modes.querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(button.dataset.mode === status.mode));
    }
    this.alarm.hidden = !status.alarm;
    if (status.alarm) {
      this.alarm.replaceChildren(
        h('strong', {}, 'Heating alarm: '), status.alarm.reason, ' ',
        actionButton('Clear alarm', () => this.apply('clear_alarm', {})));
    }
    this.warnings.replaceChildren(...(status.warnings || []).map((warning) => h('li', {}, warning)));
    const relayError = status.relay && status.relay.error;
    if (relayError) this.warnings.append(h('li', {}, `relay: ${relayError}`));
  }

  // A plugin event (heating_alarm) or a change of owner: ask again.
  onEvent() {
    this.load();
  }
}
