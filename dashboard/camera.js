// Camera (plugins/camera): the live MJPEG stream in an <img>, from a URL
// the plugin signs (`share`), or, with `auth: none`, the stream at the
// endpoint the services rows publish. Nothing streams until asked: the
// camera captures only while someone watches.
import { api } from './api.js';
import { h, message } from './dom.js';
import { Panel, actionButton } from './panel.js';

const kShareTtlS = 3600;  // long enough to watch; the plugin's minimum is 60

// "http=127.0.0.1:8080" (a services row's endpoint) -> the stream's URL.
function streamAt(endpoint) {
  const http = String(endpoint || '').split(/[,\s]+/).find((part) => part.startsWith('http='));
  return http ? `http://${http.slice('http='.length)}/stream.mjpg` : null;
}

export class CameraPanel extends Panel {
  constructor(context) {
    super('camera', 'Camera', context);
    this.image = h('img', { class: 'stream', alt: 'the camera, live', hidden: true });
    this.image.addEventListener('error', () => {
      if (!this.image.getAttribute('src')) return;
      this.showError(new Error(`the stream at ${new URL(this.image.src).host} could not be shown: ` +
        'the camera listens there, which this browser may not reach (see `listen` in the camera README)'));
      this.stop();
    });
    this.button = actionButton('Watch', () => (this.image.getAttribute('src') ? this.stop() : this.watch()),
      { data: { action: 'watch' } });
    this.body.append(h('div', { class: 'row' }, this.button), this.image);
  }

  async watch() {
    let url = null;
    try {
      url = (await api.call(this.service, 'share', { ttl_s: kShareTtlS })).url;
      this.showError(null);
    } catch (error) {
      if (this.context.onNeedsLogin(error)) return;
      // auth: none refuses share; the stream is then open at its endpoint.
      const row = (this.rows || []).find((r) => streamAt(r.endpoint));
      url = row && message(error).includes('auth: none') ? streamAt(row.endpoint) : null;
      if (!url) {
        this.showError(new Error(message(error)));
        return;
      }
    }
    this.image.src = url;
    this.image.hidden = false;
    this.button.textContent = 'Stop watching';
  }

  stop() {
    this.image.removeAttribute('src');  // closes the stream's connection
    this.image.hidden = true;
    this.button.textContent = 'Watch';
  }

  destroy() {
    this.stop();
    super.destroy();
  }
}
