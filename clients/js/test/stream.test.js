// RunwireStream in Node against a real stream API and nats-server, started (and restarted) by
// tests/js_client/test_node_client.py, which passes in the environment:
//   RUNWIRE_URL           the stream API
//   RUNWIRE_TOKEN         a token for every project
//   RUNWIRE_TEST_CONTROL  the harness: POST /stream-api/{stop,kill,start}, /append, /token
//   RUNWIRE_TEST_MAX_MSGS the stream's message limit (retention), for the reset test
// Without RUNWIRE_URL these tests are skipped (the harness fails on any skip).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { RunwireStream, StreamRefused } from "@runwire/client";

const { RUNWIRE_URL: baseUrl, RUNWIRE_TOKEN: token, RUNWIRE_TEST_CONTROL: control } = process.env;
const MAX_MSGS = Number(process.env.RUNWIRE_TEST_MAX_MSGS ?? 0);
const skip = baseUrl ? false : "RUNWIRE_URL is not set (run through tests/js_client)";
const FAST = { initialMs: 50, maxMs: 300, factor: 2 };

function newProject() {
  return `js-${randomUUID().slice(0, 12)}`;
}

function cloudEvent(project, n, { type = "js.step.completed", aggregate = "run-1" } = {}) {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: "/test/js-client",
    type,
    subject: aggregate,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    project,
    data: { n },
  };
}

async function post(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `POST ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Publish over HTTP; the cursors, in order. */
async function publish(project, events) {
  const answer = await post(`${baseUrl}/v1/projects/${project}/events`, events, {
    Authorization: `Bearer ${token}`,
  });
  return answer.events.map((e) => e.cursor);
}

/** Ask the harness to do what a test cannot do over the stream API itself. */
function harness(action, body = {}) {
  return post(`${control}/${action}`, body);
}

/** Poll until `predicate()` holds (the JS twin of tests/support/eventually.py). */
async function eventually(predicate, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A RunwireStream that records everything its callbacks are given. */
function watch(options) {
  const seen = { events: [], statuses: [], resets: [] };
  seen.stream = new RunwireStream({
    baseUrl,
    token,
    backoff: FAST,
    onEvent: (e) => seen.events.push(e),
    onStatus: (status, info) => seen.statuses.push({ status, info }),
    onReset: (reset) => seen.resets.push(reset),
    ...options,
  });
  seen.cursors = () => seen.events.map((e) => e.cursor);
  seen.until = (predicate, what) =>
    eventually(() => predicate(seen), () => `${what}: ${JSON.stringify(seen.statuses.map((s) => s.status))}`);
  seen.opened = (times = 1) =>
    seen.until((s) => s.statuses.filter((x) => x.status === "open").length >= times, `open ×${times}`);
  seen.received = (cursors) =>
    seen.until((s) => s.events.length >= cursors.length, `${cursors.length} events, got ${seen.events.length}`);
  return seen;
}

test("events arrive once, in order, with the documented fields", { skip }, async () => {
  const project = newProject();
  const seen = watch({ project });
  try {
    await seen.opened();
    const sent = Array.from({ length: 30 }, (_, n) => cloudEvent(project, n));
    const cursors = [...(await publish(project, sent.slice(0, 10))), ...(await publish(project, sent.slice(10)))];
    await seen.received(cursors);
    assert.deepEqual(seen.cursors(), cursors);
    assert.deepEqual(
      seen.events.map((e) => e.event.id),
      sent.map((e) => e.id),
    );
    const [first] = seen.events;
    assert.equal(first.type, "js.step.completed");
    assert.deepEqual(first.event.data, { n: 0 });
    assert.ok(first.receivedAt instanceof Date);
    assert.equal(seen.stream.lastCursor, cursors.at(-1));
  } finally {
    seen.stream.close();
  }
  assert.deepEqual(seen.statuses.at(-1), { status: "closed", info: {} });
  assert.deepEqual(seen.statuses[0], { status: "connecting", info: { attempt: 0, cursor: null } });
});

test("type patterns and aggregates filter, as arrays or comma lists", { skip }, async () => {
  const project = newProject();
  const byArray = watch({ project, types: ["js.step.*"], aggregates: ["run-1", "run-3"] });
  const byList = watch({ project, types: "js.step.*", aggregates: "run-1,run-3" });
  try {
    await Promise.all([byArray.opened(), byList.opened()]);
    const shapes = [];
    for (const type of ["js.step.started", "js.step.completed", "js.other", "js.step.deep.x"]) {
      for (const aggregate of ["run-1", "run-2", "run-3"]) shapes.push({ type, aggregate });
    }
    const cursors = await publish(
      project,
      shapes.map((shape, n) => cloudEvent(project, n, shape)),
    );
    const wanted = cursors.filter((_, n) => {
      const { type, aggregate } = shapes[n];
      return /^js\.step\.[^.]+$/.test(type) && aggregate !== "run-2";
    });
    assert.equal(wanted.length, 4);
    // The last event published matches no filter; one more that matches marks the end.
    const [marker] = await publish(project, [cloudEvent(project, 99, { type: "js.step.done", aggregate: "run-3" })]);
    await Promise.all([byArray.received([...wanted, marker]), byList.received([...wanted, marker])]);
    assert.deepEqual(byArray.cursors(), [...wanted, marker]);
    assert.deepEqual(byList.cursors(), [...wanted, marker]);
  } finally {
    byArray.stream.close();
    byList.stream.close();
  }
});

test("from earliest replays what is kept; from a cursor resumes right after it", { skip }, async () => {
  const project = newProject();
  const cursors = await publish(
    project,
    Array.from({ length: 6 }, (_, n) => cloudEvent(project, n)),
  );
  const replay = watch({ project, from: "earliest" });
  const resume = watch({ project, from: cursors[2] });
  try {
    await Promise.all([replay.received(cursors), resume.received(cursors.slice(3))]);
    assert.deepEqual(replay.cursors(), cursors);
    assert.deepEqual(resume.cursors(), cursors.slice(3));
    assert.deepEqual(resume.statuses[0].info, { attempt: 0, cursor: cursors[2] });
  } finally {
    replay.stream.close();
    resume.stream.close();
  }
});

test("resumes with the last cursor after `event: close` and a restart, and after kill -9", { skip }, async () => {
  const project = newProject();
  const seen = watch({ project });
  try {
    await seen.opened();
    const expected = await publish(project, [0, 1, 2].map((n) => cloudEvent(project, n)));
    await seen.received(expected);

    // SIGTERM: the server sends `event: close`, the client waits and reconnects after its cursor.
    await harness("stream-api/stop");
    await seen.until(
      (s) => s.statuses.some((x) => x.status === "waiting" && x.info.reason === "the server is shutting down"),
      "waiting after event: close",
    );
    const closing = seen.statuses.find((x) => x.status === "waiting");
    assert.equal(closing.info.cursor, expected.at(-1));
    expected.push(...(await harness("append", { events: [3, 4, 5].map((n) => cloudEvent(project, n)) })).cursors);
    await harness("stream-api/start");
    await seen.opened(2);
    expected.push(...(await publish(project, [6, 7].map((n) => cloudEvent(project, n)))));
    await seen.received(expected);
    assert.deepEqual(seen.cursors(), expected);

    // kill -9: no goodbye, the response just breaks; same resume.
    await harness("stream-api/kill");
    expected.push(...(await harness("append", { events: [8, 9].map((n) => cloudEvent(project, n)) })).cursors);
    await harness("stream-api/start");
    await seen.opened(3);
    expected.push(...(await publish(project, [10].map((n) => cloudEvent(project, n)))));
    await seen.received(expected);
    assert.deepEqual(seen.cursors(), expected);
    assert.deepEqual(
      seen.events.map((e) => e.event.data.n),
      [...Array(11).keys()],
    );
    const reconnects = seen.statuses.filter((x) => x.status === "connecting" && x.info.attempt === 0);
    assert.equal(reconnects.length, 1, "the attempt count resets once a connection opens, and only then");
  } finally {
    seen.stream.close();
  }
});

test("a refused stream fails with the HTTP status and stops", { skip }, async () => {
  const project = newProject();
  const { token: otherProjectsToken } = await harness("token", { projects: [newProject()] });
  const cases = [
    [{ token: "not-a-jwt" }, 401],
    [{ token: otherProjectsToken }, 403],
    [{ types: ["js.>.x"] }, 400],
  ];
  for (const [options, status] of cases) {
    const seen = watch({ project, ...options });
    await seen.until((s) => s.statuses.some((x) => x.status === "failed"), `failed with ${status}`);
    const failed = seen.statuses.at(-1);
    assert.equal(failed.status, "failed");
    assert.ok(failed.info.error instanceof StreamRefused);
    assert.equal(failed.info.error.status, status, failed.info.reason);
    assert.deepEqual(
      seen.statuses.map((x) => x.status),
      ["connecting", "failed"],
    );
    seen.stream.close(); // a no-op after a failure
    assert.equal(seen.statuses.length, 2);
  }
});

test("a silent connection is dropped after idleTimeoutMs and resumed", { skip }, async () => {
  const project = newProject();
  // Shorter than the server's heartbeat (1 s in the harness): each connection looks dead.
  const seen = watch({ project, idleTimeoutMs: 300 });
  try {
    await seen.until(
      (s) => s.statuses.some((x) => x.status === "waiting" && x.info.reason === "no data for 300 ms"),
      "an idle timeout",
    );
    await seen.opened(2);
  } finally {
    seen.stream.close();
  }
});

test("an exception in a callback is reported and the stream goes on", { skip }, async (t) => {
  const project = newProject();
  const reported = [];
  t.mock.method(console, "error", (error) => reported.push(error));
  const delivered = [];
  const stream = new RunwireStream({
    baseUrl,
    token,
    project,
    onEvent({ cursor }) {
      delivered.push(cursor);
      throw new Error(`callback broke at ${cursor}`);
    },
  });
  try {
    const opened = watch({ project }); // a second reader, to know when the server is live
    await opened.opened();
    opened.stream.close();
    const cursors = await publish(project, [0, 1, 2].map((n) => cloudEvent(project, n)));
    await eventually(() => delivered.length === 3, () => `3 events, got ${delivered.length}`);
    assert.deepEqual(delivered, cursors);
    assert.deepEqual(
      reported.map((e) => e.message),
      cursors.map((c) => `callback broke at ${c}`),
    );
  } finally {
    stream.close();
  }
});

// Last: it fills the stream past its retention limit, which would reset a later `from: "earliest"`.
test("a cursor older than retention surfaces `reset`, then continues at the earliest kept", { skip }, async () => {
  assert.ok(MAX_MSGS > 0 && MAX_MSGS <= 1000, "RUNWIRE_TEST_MAX_MSGS");
  const project = newProject();
  // The event right after `gone` must go too: a reset means events *after* the cursor were removed.
  const [gone] = await publish(project, [cloudEvent(project, -2), cloudEvent(project, -1)]);
  const kept = [];
  for (let n = 0; n < MAX_MSGS; n += 100) {
    const batch = Array.from({ length: Math.min(100, MAX_MSGS - n) }, (_, i) => cloudEvent(project, n + i));
    kept.push(...(await publish(project, batch)));
  }
  const seen = watch({ project, from: gone });
  try {
    await seen.received(kept);
    assert.equal(seen.resets.length, 1);
    const [reset] = seen.resets;
    assert.equal(reset.requested, gone);
    assert.equal(reset.earliest, kept[0]);
    assert.deepEqual(seen.cursors(), kept);
  } finally {
    seen.stream.close();
  }
});
