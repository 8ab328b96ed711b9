/**
 * RunwireStream: one filtered, resumable runwire event stream, in a browser or in Node >= 18.
 *
 * It reads the stream API's Server-Sent Events with `fetch` rather than `EventSource`: runwire
 * names each SSE message after its CloudEvent type, and an EventSource only dispatches named
 * messages to listeners registered for that exact name, so it cannot receive "every type".
 * `fetch` also sends the token as an Authorization header instead of in the URL.
 *
 * Guarantees it adds on top of the server's: reconnects with capped exponential backoff and jitter,
 * resumes after the last cursor it delivered (no gap), ignores any event at or before that cursor
 * (no duplicate), and treats a silent connection (no event or heartbeat for `idleTimeoutMs`) as
 * dead. See docs/js-client.md.
 *
 * This file is the npm package `@runwire/client` (clients/js) and, byte for byte, the browser module
 * the stream API serves at /static/runwire-client.js; it uses only what both platforms have
 * (fetch, streams, TextDecoderStream, AbortController), so it has no dependencies and no build.
 */
import { SseParser } from "./sse-parser.js";

export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 30_000, factor: 2 });

const CURSOR = /^\d+$/;

/** Whether cursor `a` comes after cursor `b` (null: nothing yet). Cursors are decimal strings that
 * may exceed 2^53, so they are compared as BigInt, never as Number. */
export function cursorAfter(a, b) {
  return b == null || BigInt(a) > BigInt(b);
}

/** The delay before reconnect attempt `attempt` (0-based): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that many clients dropped at once do not return at once. */
export function backoffDelay(attempt, { initialMs, maxMs, factor } = DEFAULT_BACKOFF) {
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** An HTTP error that reconnecting will not cure (bad token, forbidden project, bad filter). */
export class StreamRefused extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}: ${detail}`);
    this.name = "StreamRefused";
    this.status = status;
    this.detail = detail;
  }
}

export class RunwireStream {
  #options;
  #backoff;
  #lastCursor;
  #attempt = 0;
  #abort = null;
  #retryTimer = null;
  #idleTimer = null;
  #closed = false;

  /**
   * @param {object} options
   * @param {string} [options.baseUrl] the stream API's origin ("" = this page's origin; required
   *   outside a page, e.g. in Node)
   * @param {string} options.project
   * @param {string} options.token a JWT whose `projects` claim grants `project`
   * @param {string[]|string} [options.types] type patterns (`workflow.>`), array or comma list
   * @param {string[]|string} [options.aggregates] aggregate ids, array or comma list
   * @param {string} [options.from] "latest" (default: live only), "earliest" (replay all), or a
   *   cursor to resume after
   * @param {(e: {cursor: string, type: string, event: object, receivedAt: Date}) => void} [options.onEvent]
   * @param {(r: {earliest: string, requested: string}) => void} [options.onReset]
   * @param {(status: string, info: object) => void} [options.onStatus]
   * @param {{initialMs?: number, maxMs?: number, factor?: number}} [options.backoff]
   * @param {number} [options.idleTimeoutMs] reconnect after this long without a byte (default 45 s,
   *   three times the server's default heartbeat)
   */
  constructor(options) {
    if (!options?.project) throw new TypeError("RunwireStream: `project` is required");
    if (!options.token) throw new TypeError("RunwireStream: `token` is required");
    // Outside a page (Node) a relative URL has nothing to resolve against: fail now, not on every retry.
    if (!options.baseUrl && globalThis.location === undefined) {
      throw new TypeError("RunwireStream: `baseUrl` is required outside a browser page");
    }
    const from = options.from ?? "latest";
    if (!["latest", "earliest"].includes(from) && !CURSOR.test(from)) {
      throw new TypeError(`RunwireStream: \`from\` must be "latest", "earliest" or a cursor, got ${from}`);
    }
    this.#options = {
      baseUrl: "",
      idleTimeoutMs: 45_000,
      onEvent: () => {},
      onReset: () => {},
      onStatus: () => {},
      ...options,
      from,
    };
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#lastCursor = CURSOR.test(from) ? from : null;
    this.#connect();
  }

  /** The cursor of the last event delivered to `onEvent` (null before the first). */
  get lastCursor() {
    return this.#lastCursor;
  }

  /** Stop for good: abort the connection and any pending reconnect. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#idleTimer);
    this.#abort?.abort();
    this.#status("closed", {});
  }

  #url() {
    const { baseUrl, project, types, aggregates, from } = this.#options;
    const query = new URLSearchParams();
    const types_ = listParam(types);
    const aggregates_ = listParam(aggregates);
    if (types_) query.set("types", types_);
    if (aggregates_) query.set("aggregates", aggregates_);
    // Resuming after the last cursor (the server's Last-Event-ID semantics) wins over `from`.
    if (this.#lastCursor !== null) query.set("last_event_id", this.#lastCursor);
    else query.set("from", from);
    return `${baseUrl}/v1/projects/${encodeURIComponent(project)}/events/stream?${query}`;
  }

  async #connect() {
    if (this.#closed) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#status("connecting", { attempt: this.#attempt, cursor: this.#lastCursor });
    let response;
    try {
      response = await fetch(this.#url(), {
        headers: { Authorization: `Bearer ${this.#options.token}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal: abort.signal,
      });
    } catch (error) {
      this.#retry(`cannot connect: ${error.message}`);
      return;
    }
    if (!response.ok) {
      const detail = await problemDetail(response);
      if (response.status === 429 || response.status >= 500) {
        this.#retry(`HTTP ${response.status}: ${detail}`, retryAfterMs(response));
      } else {
        this.#fail(new StreamRefused(response.status, detail));
      }
      return;
    }
    this.#attempt = 0;
    this.#status("open", { cursor: this.#lastCursor });
    const reason = await this.#read(response.body, abort);
    this.#retry(reason);
  }

  /** Read one response until it ends; returns why it ended. */
  async #read(body, abort) {
    let serverClosing = false;
    const parser = new SseParser({
      onMessage: (message) => {
        if (message.event === "close") serverClosing = true;
        else this.#handle(message);
      },
    });
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        this.#watchIdle(abort);
        const { value, done } = await reader.read();
        if (done) return "the server ended the stream";
        parser.push(value);
        if (serverClosing) return "the server is shutting down";
      }
    } catch (error) {
      return abort.signal.aborted ? String(abort.signal.reason ?? "aborted") : `stream broke: ${error.message}`;
    } finally {
      clearTimeout(this.#idleTimer);
      abort.abort("done");
    }
  }

  #watchIdle(abort) {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(
      () => abort.abort(`no data for ${this.#options.idleTimeoutMs} ms`),
      this.#options.idleTimeoutMs,
    );
  }

  #handle({ id, event, data }) {
    if (event === "reset") {
      const reset = JSON.parse(data);
      // Resume at the earliest event still stored, so a reconnect does not ask for the gap again.
      const beforeEarliest = (BigInt(reset.earliest) - 1n).toString();
      if (cursorAfter(beforeEarliest, this.#lastCursor)) this.#lastCursor = beforeEarliest;
      this.#call("onReset", reset);
      return;
    }
    if (id === null || !CURSOR.test(id)) return; // not an event (a control message of a newer server)
    if (!cursorAfter(id, this.#lastCursor)) return; // already delivered before a reconnect
    this.#lastCursor = id;
    let cloudEvent;
    try {
      cloudEvent = JSON.parse(data);
    } catch (error) {
      // Skipped, not retried: the same bytes would come back on every reconnect.
      report(new SyntaxError(`runwire event ${id} is not JSON: ${error.message}`));
      return;
    }
    this.#call("onEvent", { cursor: id, type: event, event: cloudEvent, receivedAt: new Date() });
  }

  #retry(reason, notBeforeMs = 0) {
    if (this.#closed) return;
    const delayMs = Math.max(backoffDelay(this.#attempt, this.#backoff), notBeforeMs);
    this.#attempt += 1;
    this.#status("waiting", { attempt: this.#attempt, delayMs, reason, cursor: this.#lastCursor });
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #fail(error) {
    this.#closed = true;
    this.#status("failed", { error, reason: error.message });
  }

  #status(status, info) {
    this.#call("onStatus", status, info);
  }

  /** Run a user callback; its exceptions are reported but never break the stream. */
  #call(name, ...args) {
    try {
      this.#options[name](...args);
    } catch (error) {
      report(error);
    }
  }
}

/** Show an error without throwing it: `reportError` in a page (the console, `onerror`); Node has no
 * such function, and rethrowing there would end the process, so it goes to stderr. */
function report(error) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else console.error(error);
}

function listParam(value) {
  if (!value) return "";
  const items = Array.isArray(value) ? value : String(value).split(",");
  return items
    .map((item) => item.trim())
    .filter(Boolean)
    .join(",");
}

async function problemDetail(response) {
  try {
    const problem = await response.json();
    return problem.detail ?? problem.title ?? response.statusText;
  } catch {
    return response.statusText;
  }
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) ? seconds * 1000 : 0;
}
