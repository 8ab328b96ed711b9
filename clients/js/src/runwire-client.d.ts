/**
 * Types of `@runwire/client` (runwire-client.js): hand-written beside the plain ES module, so the
 * package needs no build step. Kept in step with docs/js-client.md.
 */

/** A CloudEvent as runwire stores it (JSON); `data` is the producer's payload. */
export interface CloudEvent<Data = unknown> {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: Data;
  /** runwire's extension attributes (`project`, `traceparent`, ...) and any the producer added. */
  [extension: string]: unknown;
}

/** What `onEvent` receives, once per event, in stream order. */
export interface StreamEvent<Data = unknown> {
  /** The event's position in the stream: a decimal string (it may exceed 2^53). */
  cursor: string;
  /** The CloudEvent type (the SSE event name). */
  type: string;
  event: CloudEvent<Data>;
  /** When this client received it. */
  receivedAt: Date;
}

/** Events after `requested` were removed by the stream's retention; the stream went on at `earliest`. */
export interface StreamReset {
  earliest: string;
  requested: string;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export type StreamStatus = "connecting" | "open" | "waiting" | "failed" | "closed";

/** The `info` passed to `onStatus` with each status. */
export interface StatusInfo {
  connecting: { attempt: number; cursor: string | null };
  open: { cursor: string | null };
  waiting: { attempt: number; delayMs: number; reason: string; cursor: string | null };
  failed: { error: StreamRefused; reason: string };
  closed: Record<string, never>;
}

/** `(status, info)` pairs: checking `status` narrows `info` (TypeScript >= 4.6). */
export type StatusArgs = { [S in StreamStatus]: [status: S, info: StatusInfo[S]] }[StreamStatus];

export type StatusListener = (...args: StatusArgs) => void;

export interface RunwireStreamOptions<Data = unknown> {
  /** The stream API's origin; `""` (the default) means this page's origin. Required in Node. */
  baseUrl?: string;
  /** The project to read. */
  project: string;
  /** A runwire JWT whose `projects` claim grants `project`; sent as `Authorization: Bearer`. */
  token: string;
  /** Type patterns with NATS wildcards (`workflow.>`, `agent.step.*`): an array or a comma list. */
  types?: string[] | string;
  /** Aggregate ids (run or job ids): an array or a comma list. */
  aggregates?: string[] | string;
  /** `"latest"` (default: only new events), `"earliest"` (everything kept) or a cursor to resume after. */
  from?: "latest" | "earliest" | (string & {});
  onEvent?: (event: StreamEvent<Data>) => void;
  onReset?: (reset: StreamReset) => void;
  onStatus?: StatusListener;
  /** Reconnect delays (defaults: `{initialMs: 500, maxMs: 30000, factor: 2}`). */
  backoff?: Partial<Backoff>;
  /** Reconnect when nothing, not even a heartbeat, arrives for this long (default 45000). */
  idleTimeoutMs?: number;
}

export declare const DEFAULT_BACKOFF: Readonly<Backoff>;

/** Whether cursor `a` comes after cursor `b` (`null`: nothing yet), compared as BigInt. */
export declare function cursorAfter(a: string, b: string | null | undefined): boolean;

/** The delay before reconnect attempt `attempt` (0-based): capped exponential with equal jitter. */
export declare function backoffDelay(attempt: number, backoff?: Backoff): number;

/** The server refused the stream with a 4xx that retrying cannot fix (401, 403, 400). */
export declare class StreamRefused extends Error {
  constructor(status: number, detail: string);
  readonly name: "StreamRefused";
  readonly status: number;
  readonly detail: string;
}

/** One filtered, resumable stream of a project's events; it connects when constructed. */
export declare class RunwireStream<Data = unknown> {
  constructor(options: RunwireStreamOptions<Data>);
  /** The cursor of the last event given to `onEvent` (`null` before the first). */
  readonly lastCursor: string | null;
  /** Stop for good: abort the connection and any pending reconnect. */
  close(): void;
}
