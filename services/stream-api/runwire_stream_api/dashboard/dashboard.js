/**
 * The runwire live dashboard: connects the page's controls to one event stream (RunwireStream),
 * a poll of the instance's stats, the event list, the latency chart and the trace view.
 */
import { ApiError, getJson } from "./api.js";
import { EventList } from "./event-list.js";
import { formatCount, formatSeconds } from "./format.js";
import { LatencyChart } from "./latency-chart.js";
import { RunwireStream } from "./runwire-client.js";
import { loadFilters, saveFilters, saveToken, takeToken, tokenClaims } from "./session.js";
import { TraceView } from "./trace-view.js";

const STATS_INTERVAL_MS = 2000;
// An operator watching a restart wants the page back within seconds, not the client's 30 s cap.
const BACKOFF = { initialMs: 500, maxMs: 8000 };

const byId = (id) => document.getElementById(id);

let token = takeToken();
let stream = null;
let streamRound = 0;
let statsTimer = null;
let statsRound = 0;

const trace = new TraceView({ host: byId("trace-view"), subject: byId("trace-subject") });
const events = new EventList({
  body: byId("event-rows"),
  empty: byId("events-empty"),
  count: byId("event-count"),
  onSelect: (entry) => trace.show(entry, token),
});
const chart = new LatencyChart(byId("latency-chart"));
const filtersForm = byId("filters");

function watch(filters) {
  const mine = ++streamRound;
  stream?.close();
  stream = null;
  events.clear();
  showNotice("");
  byId("last-cursor").textContent = "—";
  if (!token) {
    showConnection("failed", "No token: paste one under Token");
    return;
  }
  if (!filters.project) {
    showConnection("idle", "Choose a project to watch");
    return;
  }
  stream = new RunwireStream({
    project: filters.project,
    token,
    types: filters.types,
    aggregates: filters.aggregates,
    from: filters.from,
    backoff: BACKOFF,
    onEvent: (entry) => {
      events.add(entry);
      byId("last-cursor").textContent = entry.cursor;
    },
    onReset: ({ earliest, requested }) =>
      showNotice(
        `Events between cursors ${requested} and ${earliest} were removed by the stream's retention ` +
          `before this page could read them; resumed at ${earliest}.`,
      ),
    // A replaced stream's last words ("closed") must not overwrite the new one's status.
    onStatus: (status, info) => mine === streamRound && showStreamStatus(status, info, filters.project),
  });
}

function showStreamStatus(status, info, project) {
  if (status === "open") showConnection("live", `Live · ${project}`);
  else if (status === "connecting") {
    showConnection("waiting", info.attempt > 0 ? `Reconnecting (attempt ${info.attempt + 1})…` : "Connecting…");
  } else if (status === "waiting") {
    showConnection("waiting", `Reconnecting in ${(info.delayMs / 1000).toFixed(1)} s: ${info.reason}`);
  } else if (status === "failed") showConnection("failed", `Stopped: ${info.reason}`);
  else showConnection("idle", "Stopped");
}

function showConnection(state, text) {
  const pill = byId("connection");
  pill.dataset.state = state;
  pill.textContent = text;
}

function showNotice(text) {
  const notice = byId("stream-notice");
  notice.textContent = text;
  notice.hidden = !text;
}

/** Poll the instance's figures every STATS_INTERVAL_MS while there is a token it accepts. */
function watchStats() {
  clearTimeout(statsTimer);
  const round = ++statsRound;
  const usedToken = token;
  const poll = async () => {
    if (!usedToken) return;
    try {
      const stats = await getJson("/v1/stats", usedToken);
      showStats(stats);
      chart.add(Date.now(), stats.latency);
      byId("stats-status").textContent = "";
    } catch (error) {
      chart.add(Date.now(), null);
      byId("stats-status").textContent = `Instance stats unavailable: ${error.message}`;
      // A rejected token stays rejected: wait for another one rather than ask again every 2 s.
      if (error instanceof ApiError && error.status === 401) return;
    }
    // Unless a newer token started its own poll meanwhile.
    if (round === statsRound) statsTimer = setTimeout(poll, STATS_INTERVAL_MS);
  };
  poll();
}

function showStats(stats) {
  const figures = {
    "connections.sse": formatCount(stats.connections.sse),
    "connections.ws": formatCount(stats.connections.ws),
    "connections.poll": formatCount(stats.connections.poll),
    catch_up_clients: formatCount(stats.catch_up_clients),
    queue_depth: formatCount(stats.queue_depth),
    events_in: formatCount(stats.events_in),
    deliveries_total: formatCount(Object.values(stats.deliveries).reduce((sum, n) => sum + n, 0)),
    position: stats.position,
  };
  for (const dd of document.querySelectorAll("[data-stat]")) dd.textContent = figures[dd.dataset.stat];
  const { latency } = stats;
  for (const dd of document.querySelectorAll("[data-latency]")) {
    const name = dd.dataset.latency;
    dd.textContent = name === "count" ? formatCount(latency.count) : formatSeconds(latency[name]);
  }
  byId("latency-window").textContent = `publish → socket write · last ${latency.window_seconds} s`;
}

function showToken() {
  const claims = token ? tokenClaims(token) : null;
  const summary = byId("token-summary");
  if (!token) summary.textContent = "none";
  else if (!claims) summary.textContent = "unreadable";
  else {
    const projects = claims.projects === "*" ? "all projects" : [].concat(claims.projects).join(", ");
    const expired = claims.exp * 1000 < Date.now() ? " · expired" : "";
    summary.textContent = `${claims.sub} · ${projects}${expired}`;
  }
  byId("token-panel").open = !token;
}

function readFilters() {
  const form = new FormData(filtersForm);
  return Object.fromEntries(["project", "types", "aggregates", "from"].map((n) => [n, form.get(n).trim()]));
}

filtersForm.addEventListener("submit", (submit) => {
  submit.preventDefault();
  if (!filtersForm.reportValidity()) return;
  const filters = readFilters();
  saveFilters(filters);
  watch(filters);
});

byId("token-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = byId("token-input");
  token = input.value.trim();
  input.value = "";
  saveToken(token);
  showToken();
  watch(readFilters());
  watchStats();
});

const initial = loadFilters(token ? tokenClaims(token) : null);
for (const [name, value] of Object.entries(initial)) filtersForm.elements[name].value = value;
showToken();
watch(initial);
watchStats();
