// Compiled by `npm run typecheck` (tsc --noEmit), never run: the documented usage must type-check
// against the package's own declarations, and misuse must not.
import { RunwireStream, StreamRefused, cursorAfter, type StreamEvent } from "@runwire/client";
import { SseParser } from "@runwire/client/sse-parser";

interface Step {
  n: number;
}

const stream = new RunwireStream<Step>({
  baseUrl: "http://127.0.0.1:8000",
  project: "p1",
  token: "jwt",
  types: ["workflow.>", "agent.step.*"],
  aggregates: "run-42",
  from: "latest",
  onEvent({ cursor, type, event, receivedAt }: StreamEvent<Step>) {
    const n: number | undefined = event.data?.n;
    console.log(cursor.padStart(4), type, event.subject, n, receivedAt.toISOString());
  },
  onReset({ earliest, requested }) {
    console.warn(earliest, requested);
  },
  onStatus(status, info) {
    if (status === "waiting") console.info(info.delayMs, info.reason, info.attempt);
    if (status === "failed" && info.error instanceof StreamRefused) console.error(info.error.status);
  },
  backoff: { initialMs: 100 },
  idleTimeoutMs: 10_000,
});
const saved: string | null = stream.lastCursor;
if (saved !== null && cursorAfter(saved, null)) new RunwireStream({ project: "p1", token: "t", from: saved });
stream.close();

new SseParser({ onMessage: ({ id, event, data }) => console.log(id?.length, event, data) }).push("data: x\n\n");

// @ts-expect-error `project` is required
new RunwireStream({ token: "t" });
// @ts-expect-error `lastCursor` is read-only
stream.lastCursor = "1";
// @ts-expect-error no such status
new RunwireStream({ project: "p", token: "t", onStatus: (status) => status === "gone" });
