/**
 * The trace breakdown of the selected event: publish → stored → consumed → delivered, from the
 * stream API's trace endpoint, and the last leg (→ this browser) as this page observed it.
 *
 * The browser leg compares this machine's clock with the server's, so it includes any clock skew.
 */
import { ApiError, getJson } from "./api.js";
import { formatClock, formatSeconds, parseTimestamp } from "./format.js";

export class TraceView {
  #host;
  #subject;
  #request = null;

  /** @param {{host: HTMLElement, subject: HTMLElement}} elements */
  constructor({ host, subject }) {
    this.#host = host;
    this.#subject = subject;
  }

  /** Show the trace of an event list entry (`{cursor, type, event, receivedAt}`). */
  async show(entry, token) {
    this.#request?.abort();
    const request = new AbortController();
    this.#request = request;
    const { cursor, event } = entry;
    this.#subject.textContent = `cursor ${cursor} · ${entry.type} · ${event.subject ?? "_"}`;
    this.#host.replaceChildren(element("p", "empty", `Loading the trace of event ${cursor}…`));
    const path = `/v1/projects/${encodeURIComponent(event.project)}/events/${encodeURIComponent(cursor)}/trace`;
    try {
      const trace = await getJson(path, token, { signal: request.signal });
      this.#host.replaceChildren(...breakdown(trace, entry));
    } catch (error) {
      if (request.signal.aborted) return;
      const message =
        error instanceof ApiError && error.status === 404
          ? `No trace of event ${cursor} on this instance: it times only the recent events it received live.`
          : `Cannot load the trace: ${error.message}`;
      this.#host.replaceChildren(element("p", "notice", message), ...browserOnly(entry));
    }
  }
}

function breakdown(trace, entry) {
  const browserMs = entry.receivedAt.getTime();
  const publishedMs = parseTimestamp(trace.published_at);
  // No first delivery is recorded when every recipient read the event while catching up from the
  // stream rather than from the live fan-out: the browser leg then starts at the consumer.
  const delivered = trace.first_delivered_at !== null;
  const lastServerMs = parseTimestamp(delivered ? trace.first_delivered_at : trace.received_at);
  const stages = [
    ["Publish → stored", trace.stages.publish_to_stored, "JetStream acknowledged the write"],
    ["Stored → consumed", trace.stages.stored_to_received, "this instance's live consumer received it"],
    [
      "Consumed → delivered",
      trace.stages.received_to_delivered,
      delivered ? "first write to a client's socket" : "no live delivery recorded (clients caught up)",
    ],
    [
      delivered ? "Delivered → this browser" : "Consumed → this browser",
      (browserMs - lastServerMs) / 1000,
      "network and browser, plus any clock skew",
    ],
  ];
  const total = (browserMs - publishedMs) / 1000;
  return [
    waterfall(stages, total),
    facts([
      ["Trace id", trace.trace_id ?? "none (the event carries no traceparent)", "wide"],
      ["Event id", trace.id, "wide"],
      ["Published", clock(trace.published_at)],
      ["Stored", clock(trace.stored_at)],
      ["Consumed", clock(trace.received_at)],
      ["First delivered", clock(trace.first_delivered_at)],
      ["Received here", formatClock(browserMs)],
      ["Server total", formatSeconds(trace.stages.total)],
      ["Recipients", String(trace.recipients ?? "—")],
    ]),
  ];
}

/** What the browser alone knows when the server no longer has the trace. */
function browserOnly(entry) {
  const eventMs = parseTimestamp(entry.event.time);
  return [
    facts([
      ["Event time", formatClock(eventMs)],
      ["Received here", formatClock(entry.receivedAt.getTime())],
      ["Event → here", formatSeconds((entry.receivedAt.getTime() - eventMs) / 1000)],
    ]),
  ];
}

/** Stages as bars laid end to end on one time axis, each with its duration. */
function waterfall(stages, total) {
  const list = element("ol", "waterfall");
  list.setAttribute("aria-label", "Time spent in each stage");
  const drawn = stages.map(([, seconds]) => (Number.isFinite(seconds) ? Math.max(0, seconds) : 0));
  const span = Math.max(
    drawn.reduce((sum, seconds) => sum + seconds, 0),
    Number.isFinite(total) ? total : 0,
    1e-6,
  );
  let offset = 0;
  stages.forEach(([label, seconds, hint], index) => {
    const bar = element("span", `bar stage-${index + 1}`);
    bar.style.marginLeft = `${(offset / span) * 100}%`;
    bar.style.width = `max(2px, ${(drawn[index] / span) * 100}%)`;
    const track = element("span", "track");
    track.append(bar);
    const item = element("li");
    item.title = hint;
    item.append(element("span", "stage", label), track, stageValue(seconds));
    list.append(item);
    offset += drawn[index];
  });
  const summary = element("li", "total");
  summary.append(
    element("span", "stage", "Publish → this browser"),
    element("span", "track"),
    element("span", "value", formatSeconds(total)),
  );
  list.append(summary);
  return list;
}

/** A stage's duration. A negative one (the browser saw the event before the server's clock says it
 * finished writing it: clock skew, or the write timed after it returned) is shown as about zero. */
function stageValue(seconds) {
  if (!(seconds < 0)) return element("span", "value", formatSeconds(seconds));
  const value = element("span", "value", "≈ 0");
  value.title = `measured ${formatSeconds(seconds)}: the clocks of this browser and the server differ`;
  return value;
}

function facts(pairs) {
  const list = element("dl", "facts");
  for (const [term, detail, className = ""] of pairs) {
    list.append(element("dt", "", term), element("dd", className, detail));
  }
  return list;
}

function clock(rfc3339) {
  return rfc3339 ? formatClock(parseTimestamp(rfc3339)) : "—";
}

function element(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}
