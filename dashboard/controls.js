// The controls: one panel for each of the four plugins' services that the
// cluster has, made when the service appears and kept while it exists (so
// a stream, a slider or a half-typed sentence survive every refresh).
import { h } from './dom.js';
import { CameraPanel } from './camera.js';
import { LightsPanel } from './lights.js';
import { SpeakerPanel } from './speaker.js';
import { ThermostatPanel } from './thermostat.js';

// Events about one service within this long cause one reload of its panel.
const kEventDebounceMs = 500;

const kPanels = { lights: LightsPanel, thermostat: ThermostatPanel, speaker: SpeakerPanel, camera: CameraPanel };

export class Controls {
  constructor(context) {
    this.context = context;
    this.panels = new Map();  // service name -> panel
    this.grid = h('div', { class: 'panels' });
    this.empty = h('p', { class: 'quiet', hidden: true }, 'None of lights, thermostat, speaker or camera runs in this cluster.');
    this.element = h('section', { class: 'controls', 'aria-labelledby': 'controls-title' },
      h('h2', { id: 'controls-title' }, 'Controls'), this.empty, this.grid);
  }

  // The services rows changed. A panel stays while its service is known
  // at all (running, or waiting for a node): a failover must not throw
  // away what someone was doing.
  update(rows) {
    const present = new Set(rows.filter((row) => kPanels[row.name]).map((row) => row.name));
    for (const [name, panel] of this.panels) {
      if (present.has(name)) continue;
      panel.destroy();
      panel.element.remove();
      this.panels.delete(name);
    }
    const order = Object.keys(kPanels);
    for (const name of order) {
      if (!present.has(name)) continue;
      let panel = this.panels.get(name);
      if (!panel) {
        panel = new kPanels[name](this.context);
        this.panels.set(name, panel);
        // In the order above; existing panels are never moved (moving an
        // element could restart the camera's stream).
        const next = order.slice(order.indexOf(name) + 1).map((n) => this.panels.get(n)).find(Boolean);
        this.grid.insertBefore(panel.element, next ? next.element : null);
      }
      panel.update(rows.filter((row) => row.name === name));
    }
    this.empty.hidden = this.panels.size > 0;
  }

  // An event about `service` (a plugin's own, its health, a move). The
  // replay when the stream connects brings many at once: one reload each.
  onEvent(service) {
    const panel = this.panels.get(service);
    if (!panel || panel.eventTimer) return;
    panel.eventTimer = setTimeout(() => {
      panel.eventTimer = null;
      panel.onEvent();
    }, kEventDebounceMs);
  }
}
