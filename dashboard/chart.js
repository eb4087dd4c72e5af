// The thermostat's chart: room temperature, target and relay over the last
// hours, drawn as SVG through DOM APIs (no chart library; the CSP allows
// none from elsewhere). Samples are the `history` command's:
// {t: unix ms, temperature: °C or null, target: °C, relay: bool}.
import { s } from './dom.js';

const kWidth = 480;
const kHeight = 220;
const kLeft = 40;    // room for the °C labels
const kRight = 10;
const kTop = 12;
const kRelayBand = 14;  // the strip along the bottom that shows the relay
const kBottom = 22 + kRelayBand;  // the time labels and the relay strip
const kMinSpanC = 2;    // a flat line still gets a readable scale
const kLabelHalfWidth = 18;  // half an "HH:MM" label

function clock(ms) {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

// The °C range to show: every temperature and target, padded.
function range(samples) {
  const values = [];
  for (const sample of samples) {
    if (typeof sample.temperature === 'number') values.push(sample.temperature);
    if (typeof sample.target === 'number') values.push(sample.target);
  }
  if (!values.length) return [15, 25];
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < kMinSpanC) {
    const middle = (high + low) / 2;
    low = middle - kMinSpanC / 2;
    high = middle + kMinSpanC / 2;
  }
  return [Math.floor(low - 0.5), Math.ceil(high + 0.5)];
}

// Lines through consecutive samples that have a value; a gap (no reading)
// breaks the line instead of bridging it.
function runs(samples, value, x, y) {
  const lines = [];
  let current = [];
  for (const sample of samples) {
    const v = value(sample);
    if (typeof v !== 'number') {
      if (current.length) lines.push(current);
      current = [];
      continue;
    }
    current.push(`${x(sample.t).toFixed(1)},${y(v).toFixed(1)}`);
  }
  if (current.length) lines.push(current);
  return lines;
}

// The time axis spans the hours asked for, or less while the history is
// younger (after a start or a move), but never less than this.
const kMinSpanMs = 15 * 60 * 1000;

// Minutes between time labels, for a span.
function tickMinutes(spanMs) {
  const hours = spanMs / 3600000;
  return hours <= 0.5 ? 5 : hours <= 2 ? 30 : hours <= 6 ? 60 : 240;
}

// An <svg> of `samples` over (at most) the `hours` before `nowMs`.
export function drawChart(samples, hours, nowMs = Date.now()) {
  const oldest = samples.length ? samples[0].t : nowMs;
  const from = Math.max(nowMs - hours * 3600 * 1000, Math.min(oldest, nowMs - kMinSpanMs));
  const [low, high] = range(samples);
  const plotBottom = kHeight - kBottom;
  const x = (t) => kLeft + ((t - from) / (nowMs - from)) * (kWidth - kLeft - kRight);
  const y = (c) => kTop + ((high - c) / (high - low)) * (plotBottom - kTop);
  const shown = samples.filter((sample) => sample.t >= from && sample.t <= nowMs);
  const points = shown.filter((sample) => typeof sample.temperature === 'number').length;

  const grid = [];
  const step = high - low > 8 ? 2 : 1;
  for (let c = low; c <= high; c += step) {
    grid.push(s('line', { class: 'grid', x1: kLeft, x2: kWidth - kRight, y1: y(c), y2: y(c) }));
    grid.push(s('text', { class: 'axis', x: kLeft - 6, y: y(c) + 4, 'text-anchor': 'end' }, `${c}°`));
  }
  const tickMs = tickMinutes(nowMs - from) * 60 * 1000;
  for (let t = Math.ceil(from / tickMs) * tickMs; t <= nowMs; t += tickMs) {
    grid.push(s('line', { class: 'grid', x1: x(t), x2: x(t), y1: kTop, y2: plotBottom }));
    // A label that would stick out of either end is left out.
    if (x(t) < kLeft + kLabelHalfWidth || x(t) > kWidth - kRight - kLabelHalfWidth) continue;
    grid.push(s('text', { class: 'axis', x: x(t), y: kHeight - 4, 'text-anchor': 'middle' }, clock(t)));
  }

  // The relay: a strip that is filled while it was on, sample to sample.
  const relay = [];
  shown.forEach((sample, i) => {
    if (!sample.relay) return;
    const end = i + 1 < shown.length ? shown[i + 1].t : nowMs;
    relay.push(s('rect', {
      class: 'relay-on', x: x(sample.t), y: plotBottom + 2,
      width: Math.max(1, x(end) - x(sample.t)), height: kRelayBand - 4,
    }));
  });

  // The target holds from one sample to the next, and the last one until now.
  const steps = [];
  shown.forEach((sample, i) => {
    steps.push(sample);
    steps.push({ ...sample, t: i + 1 < shown.length ? shown[i + 1].t : nowMs });
  });
  const lines = [];
  for (const run of runs(steps, (sample) => sample.target, x, y)) {
    lines.push(s('polyline', { class: 'target', points: run.join(' ') }));
  }
  for (const run of runs(shown, (sample) => sample.temperature, x, y)) {
    lines.push(s('polyline', { class: 'temperature', points: run.join(' ') }));
    if (run.length === 1) {  // one sample: a dot, or nothing would show
      const [cx, cy] = run[0].split(',');
      lines.push(s('circle', { class: 'temperature-dot', cx, cy, r: 3 }));
    }
  }

  return s(
    'svg',
    {
      class: 'chart', viewBox: `0 0 ${kWidth} ${kHeight}`, role: 'img',
      'aria-label': `temperature, target and relay over the last ${hours} h`,
      data: { points, samples: shown.length },
    },
    s('title', {}, `temperature, target and relay over the last ${hours} h (${points} readings)`),
    grid,
    s('rect', { class: 'relay-track', x: kLeft, y: plotBottom + 2, width: kWidth - kLeft - kRight, height: kRelayBand - 4 }),
    relay,
    lines,
    points ? null : s('text', { class: 'axis', x: kWidth / 2, y: (kTop + plotBottom) / 2, 'text-anchor': 'middle' },
      'no readings in this time yet'),
  );
}
