// Speaker (plugins/speaker): say a sentence, set the volume, stop.
import { h, message } from './dom.js';
import { Panel, actionButton } from './panel.js';
import { api } from './api.js';

const kMaxSayBytes = 2000;  // the plugin's limit for `say`

export class SpeakerPanel extends Panel {
  constructor(context) {
    super('speaker', 'Speaker', context);
    this.text = h('input', { type: 'text', maxlength: kMaxSayBytes, placeholder: 'Something to say', 'aria-label': 'text to say' });
    const say = actionButton('Say', async () => {
      const text = this.text.value.trim();
      if (!text) return;
      if (await this.call('say', { text })) this.text.value = '';
    }, { data: { action: 'say' } });
    this.text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') say.click();
    });
    this.volume = h('input', {
      type: 'range', min: 0, max: 100, value: '50', 'aria-label': 'volume',
      on: { change: () => this.setVolume(Number(this.volume.value)) },
    });
    this.volumeText = h('output', {}, '');
    this.volumeRow = h('div', { class: 'row' }, h('span', { class: 'label' }, 'volume'), this.volume, this.volumeText);
    this.body.append(
      h('div', { class: 'row' }, this.text, say),
      this.volumeRow,
      h('div', { class: 'row' }, actionButton('Stop', () => this.call('stop'), { data: { action: 'stop' } })),
    );
    this.readVolume();
  }

  showVolume(reply) {
    this.volume.value = String(Math.round(reply.percent));
    this.volumeText.textContent = `${Math.round(reply.percent)} %${reply.muted ? ' (muted)' : ''}`;
  }

  async readVolume() {
    try {
      this.showVolume(await api.call(this.service, 'volume', {}));
    } catch (error) {
      if (this.context.onNeedsLogin(error)) return;
      // A speaker without a mixer: not an error, there is just no volume.
      this.volumeRow.replaceChildren(h('span', { class: 'quiet' }, message(error)));
    }
  }

  async setVolume(percent) {
    const reply = await this.call('volume', { percent });
    if (reply) this.showVolume(reply);
  }
}
