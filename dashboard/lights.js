// Lights (plugins/lights): each bulb on or off and its brightness, each
// group (0: all lights) on or off, through the plugin's `set` and
// `group_set`; `lights` and `groups` list them.
import { h } from './dom.js';
import { Panel, actionButton } from './panel.js';

// The plugin reads the bridge for `lights`; the bridge itself is polled
// by the plugin every 10 s, so asking more often shows nothing new.
const kRefreshMs = 30000;

export class LightsPanel extends Panel {
  constructor(context) {
    super('lights', 'Lights', context);
    this.lightsList = h('ul', { class: 'lights' });
    this.groupsList = h('ul', { class: 'groups' });
    this.body.append(this.lightsList, this.groupsList);
    this.every(kRefreshMs, () => this.load());
  }

  async load() {
    const [lights, groups] = await Promise.all([this.call('lights'), this.call('groups')]);
    if (lights) this.lightsList.replaceChildren(...lights.lights.map((light) => this.lightRow(light)));
    if (groups) this.groupsList.replaceChildren(...groups.groups.map((group) => this.groupRow(group)));
  }

  lightRow(light) {
    const on = Boolean(light.on);
    const toggle = actionButton(on ? 'On' : 'Off', async () => {
      // Shown at once; the bridge's answer (and the next list) confirms it.
      if (await this.call('set', { light: light.id, on: !on })) await this.load();
    }, { class: 'switch', 'aria-pressed': String(on), 'aria-label': `${light.name}: switch ${on ? 'off' : 'on'}`, data: { light: light.id } });
    const dims = typeof light.bri === 'number';
    const brightness = dims
      ? h('input', {
          type: 'range', min: 1, max: 254, value: String(light.bri), 'aria-label': `${light.name} brightness`,
          data: { lightBri: light.id },
          on: { change: async (event) => {
            if (await this.call('set', { light: light.id, bri: Number(event.target.value) })) await this.load();
          } },
        })
      : null;
    return h(
      'li',
      { class: ['light', on ? 'on' : 'off'], data: { light: light.id, on: String(on) } },
      h('span', { class: 'name' }, light.name, light.reachable === false ? h('span', { class: 'quiet' }, ' (unreachable)') : null),
      brightness,
      toggle,
    );
  }

  groupRow(group) {
    const set = (fields) => async () => {
      if (await this.call('group_set', { group: group.id, ...fields })) await this.load();
    };
    return h(
      'li',
      { class: 'group', data: { group: group.id } },
      h('span', { class: 'name' }, group.name),
      h('span', { class: 'buttons' },
        actionButton('All on', set({ on: true }), { data: { groupOn: group.id } }),
        actionButton('All off', set({ on: false }), { data: { groupOff: group.id } })),
    );
  }
}
