/**
 * Delivery latency p50 / p95 / p99 over the last minutes, drawn as inline SVG.
 *
 * Redrawn from its samples on every new sample and on resize, at the element's real pixel size, so
 * text is never stretched. The time axis starts at one minute and grows with the page's history up
 * to five. A sample without figures (no deliveries, or the server unreachable) breaks the lines
 * rather than drawing a fake zero.
 */
import { formatSeconds } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SPAN_MS = 60 * 1000;
const HISTORY_MS = 5 * 60 * 1000;
const SERIES = ["p50", "p95", "p99"];
const MARGIN = { top: 10, right: 12, bottom: 22, left: 60 };

export class LatencyChart {
  #host;
  #samples = [];

  /** @param {HTMLElement} host the element to draw in (sized by CSS) */
  constructor(host) {
    this.#host = host;
    host.setAttribute("role", "img");
    new ResizeObserver(() => this.#draw()).observe(host);
  }

  /** Add the figures of one poll (`null`, or p-values of null, for "nothing to show"). */
  add(atMs, latency) {
    const sample = { at: atMs };
    for (const name of SERIES) sample[name] = latency?.[name] ?? null;
    this.#samples.push(sample);
    const oldest = atMs - HISTORY_MS;
    while (this.#samples.length > 0 && this.#samples[0].at < oldest) this.#samples.shift();
    this.#draw();
  }

  #draw() {
    const width = this.#host.clientWidth;
    const height = this.#host.clientHeight;
    if (width === 0 || height === 0) return;
    const plot = {
      left: MARGIN.left,
      right: width - MARGIN.right,
      top: MARGIN.top,
      bottom: height - MARGIN.bottom,
    };
    const now = this.#samples.at(-1)?.at ?? Date.now();
    const spanMs = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, now - (this.#samples[0]?.at ?? now)));
    const values = this.#samples.flatMap((s) => SERIES.map((name) => s[name])).filter((v) => v !== null);
    const top = niceCeiling(Math.max(0.001, ...values));
    const x = (at) => plot.left + ((at - (now - spanMs)) / spanMs) * (plot.right - plot.left);
    const y = (value) => plot.bottom - (value / top) * (plot.bottom - plot.top);

    const svg = node("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
    for (let step = 0; step <= 4; step += 1) {
      const value = (top * step) / 4;
      svg.append(
        node("line", { class: "gridline", x1: plot.left, x2: plot.right, y1: y(value), y2: y(value) }),
        text(formatSeconds(value), { class: "axis", x: plot.left - 8, y: y(value) + 4, "text-anchor": "end" }),
      );
    }
    const tickMs = spanMs <= 60_000 ? 15_000 : spanMs <= 150_000 ? 30_000 : 60_000;
    for (let ago = 0; ago <= spanMs; ago += tickMs) {
      const anchor = ago === 0 ? "end" : spanMs - ago < tickMs / 3 ? "start" : "middle";
      svg.append(text(agoLabel(ago), { class: "axis", x: x(now - ago), y: height - 6, "text-anchor": anchor }));
    }
    for (const name of SERIES) {
      svg.append(node("path", { class: `line ${name}`, d: linePath(this.#samples, name, x, y) }));
      const last = this.#samples.at(-1);
      if (last && last[name] !== null) {
        svg.append(node("circle", { class: `dot ${name}`, cx: x(last.at), cy: y(last[name]), r: 3 }));
      }
    }
    this.#host.replaceChildren(svg);
    this.#host.setAttribute("aria-label", describe(this.#samples.at(-1), agoLabel(spanMs).slice(1)));
  }
}

/** An SVG path through the samples' values of `name`, lifting the pen at each missing value.
 * Each run starts with a zero-length stroke ("h0"), which round line caps draw as a dot, so that a
 * lone sample between gaps is still visible. */
function linePath(samples, name, x, y) {
  let path = "";
  let penDown = false;
  for (const sample of samples) {
    const value = sample[name];
    if (value === null) {
      penDown = false;
      continue;
    }
    const point = `${x(sample.at).toFixed(1)},${y(value).toFixed(1)}`;
    path += penDown ? `L${point}` : `M${point}h0`;
    penDown = true;
  }
  return path;
}

/** The smallest 1, 2, 4, 6 or 8 × 10^n above `value` with some headroom: an axis top whose
 * quarters are round numbers. */
function niceCeiling(value) {
  const target = value * 1.05;
  const magnitude = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 4, 6, 8, 10].find((m) => m * magnitude >= target) * magnitude;
}

/** "now", "−45 s", "−90 s", "−2 min" for a time `ms` before now. */
function agoLabel(ms) {
  if (ms === 0) return "now";
  return ms % 60_000 === 0 ? `−${ms / 60_000} min` : `−${Math.round(ms / 1000)} s`;
}

function describe(sample, span) {
  if (!sample || sample.p50 === null) return `Delivery latency over the last ${span}: no deliveries just now`;
  return (
    `Delivery latency over the last ${span}; now p50 ${formatSeconds(sample.p50)}, ` +
    `p95 ${formatSeconds(sample.p95)}, p99 ${formatSeconds(sample.p99)}`
  );
}

function node(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function text(content, attributes) {
  const element = node("text", attributes);
  element.textContent = content;
  return element;
}
