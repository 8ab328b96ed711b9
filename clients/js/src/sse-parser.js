/**
 * Incremental parser of the `text/event-stream` wire format (WHATWG HTML, "Server-sent events").
 *
 * Feed it decoded text as it arrives, in chunks of any size; it calls `onMessage` with
 * `{id, event, data}` for each complete message and `onComment` for each comment line
 * (runwire's `: heartbeat`). `retry:` is ignored: the caller schedules its own reconnects.
 */
export class SseParser {
  #pending = "";
  #data = [];
  #event = "";
  #id = null;
  #onMessage;
  #onComment;

  /** @param {{onMessage: (m: {id: string|null, event: string, data: string}) => void,
   *           onComment?: (text: string) => void}} handlers */
  constructor({ onMessage, onComment = () => {} }) {
    this.#onMessage = onMessage;
    this.#onComment = onComment;
  }

  /** Parse the next chunk of the stream. */
  push(text) {
    let buffer = this.#pending + text;
    // A chunk may end between the "\r" and "\n" of one line break: keep the "\r" for the next
    // chunk so that the pair is not read as two line breaks (which would end a message early).
    const heldBack = buffer.endsWith("\r") ? "\r" : "";
    if (heldBack) buffer = buffer.slice(0, -1);
    const lines = buffer.split(/\r\n|\r|\n/);
    this.#pending = lines.pop() + heldBack;
    for (const line of lines) this.#line(line);
  }

  #line(line) {
    if (line === "") {
      this.#dispatch();
      return;
    }
    if (line.startsWith(":")) {
      this.#onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
    else if (field === "id" && !value.includes("\0")) this.#id = value;
  }

  #dispatch() {
    // Unlike a browser's EventSource, the id is not carried over to later messages: runwire sends
    // `id:` with every event, and a control message (reset, close) must not look like an event.
    const message = { id: this.#id, event: this.#event || "message", data: this.#data.join("\n") };
    const hasData = this.#data.length > 0;
    this.#data = [];
    this.#event = "";
    this.#id = null;
    if (hasData) this.#onMessage(message);
  }
}
