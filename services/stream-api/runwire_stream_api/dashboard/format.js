/** How the dashboard reads and shows times and durations. */

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i;

/** Milliseconds since the epoch of an RFC 3339 time, keeping its microseconds (a JS Date keeps
 * only milliseconds, and the stages of a trace are often shorter than one). NaN if unreadable. */
export function parseTimestamp(text) {
  const match = RFC3339.exec(text ?? "");
  if (!match) return Number.NaN;
  const [, seconds, fraction = "", zone] = match;
  const wholeMs = Date.parse(`${seconds}${zone.toUpperCase()}`);
  return wholeMs + Number(`0.${fraction || "0"}`) * 1000;
}

/** "22:48:16.123" (UTC) for epoch milliseconds. */
export function formatClock(epochMs) {
  if (!Number.isFinite(epochMs)) return "—";
  return new Date(epochMs).toISOString().slice(11, 23);
}

/** A duration in seconds, in the unit and precision that keep it readable: "850 µs", "1.24 ms",
 * "12.5 ms", "250 ms", "1.20 s". */
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const abs = Math.abs(seconds);
  if (abs === 0) return "0";
  if (abs < 1e-3) return `${Math.round(seconds * 1e6)} µs`;
  if (abs < 1e-2) return `${(seconds * 1e3).toFixed(2)} ms`;
  if (abs < 1e-1) return `${(seconds * 1e3).toFixed(1)} ms`;
  if (abs < 1) return `${Math.round(seconds * 1e3)} ms`;
  return `${seconds.toFixed(2)} s`;
}

/** A count with thousands separators. */
export function formatCount(value) {
  return Number.isFinite(value) ? value.toLocaleString("en-US") : "—";
}
