// Unit tests that need no server: the SSE parser, cursor order and backoff of the package.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, cursorAfter, DEFAULT_BACKOFF, RunwireStream } from "@runwire/client";
import { SseParser } from "@runwire/client/sse-parser";

function parse(chunks) {
  const messages = [];
  const comments = [];
  const parser = new SseParser({ onMessage: (m) => messages.push(m), onComment: (c) => comments.push(c) });
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments };
}

test("messages split at every byte, including between CR and LF, parse the same", () => {
  const wire = ": heartbeat\r\nid: 7\r\nevent: a.b\r\ndata: {\"x\":1}\r\n\r\nevent: close\r\ndata: {}\r\n\r\n";
  const whole = parse([wire]);
  assert.deepEqual(whole.messages, [
    { id: "7", event: "a.b", data: '{"x":1}' },
    { id: null, event: "close", data: "{}" },
  ]);
  assert.deepEqual(whole.comments, ["heartbeat"]);
  assert.deepEqual(parse([...wire]), whole);
});

test("multi-line data is joined with newlines and an unnamed message is `message`", () => {
  assert.deepEqual(parse(["data: a\ndata: b\n\n"]).messages, [{ id: null, event: "message", data: "a\nb" }]);
});

test("cursors compare as BigInt beyond 2^53", () => {
  assert.equal(cursorAfter("9007199254740993", "9007199254740992"), true);
  assert.equal(cursorAfter("9007199254740992", "9007199254740993"), false);
  assert.equal(cursorAfter("1", null), true);
});

test("backoff stays between half and all of the capped exponential", () => {
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const ceiling = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * DEFAULT_BACKOFF.factor ** attempt);
    const delay = backoffDelay(attempt);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} for attempt ${attempt}`);
  }
});

test("outside a page, baseUrl is required", () => {
  assert.throws(() => new RunwireStream({ project: "p", token: "t" }), /baseUrl/);
  assert.throws(() => new RunwireStream({ baseUrl: "http://x", project: "p", token: "t", from: "soon" }), /from/);
});
