/**
 * The live event table: newest on top, at most MAX_ROWS rows, one selectable for its trace.
 *
 * Rows are added once per animation frame, so a replay of thousands of events costs one layout,
 * not thousands; events that would scroll off before they are drawn are never drawn.
 */
import { formatClock, formatSeconds, parseTimestamp } from "./format.js";

export const MAX_ROWS = 200;

export class EventList {
  #body;
  #empty;
  #count;
  #onSelect;
  #pending = [];
  #frame = null;
  #received = 0;
  #entries = new Map();

  /** @param {{body: HTMLTableSectionElement, empty: HTMLElement, count: HTMLElement,
   *           onSelect: (entry: object) => void}} elements */
  constructor({ body, empty, count, onSelect }) {
    this.#body = body;
    this.#empty = empty;
    this.#count = count;
    this.#onSelect = onSelect;
    body.addEventListener("click", (click) => {
      const row = click.target.closest("tr[data-cursor]");
      if (row) this.#select(row);
    });
  }

  /** Show an event delivered by the stream: `{cursor, type, event, receivedAt}`. */
  add(entry) {
    this.#received += 1;
    this.#pending.push(entry);
    if (this.#pending.length > MAX_ROWS) this.#pending.splice(0, this.#pending.length - MAX_ROWS);
    this.#frame ??= requestAnimationFrame(() => this.#flush());
  }

  /** Forget every event (the filters changed). */
  clear() {
    if (this.#frame !== null) cancelAnimationFrame(this.#frame);
    this.#frame = null;
    this.#pending = [];
    this.#received = 0;
    this.#entries.clear();
    this.#body.replaceChildren();
    this.#render();
  }

  #flush() {
    this.#frame = null;
    const rows = this.#pending.map((entry) => {
      this.#entries.set(entry.cursor, entry);
      return row(entry);
    });
    this.#pending = [];
    this.#body.prepend(...rows.reverse());
    while (this.#body.rows.length > MAX_ROWS) {
      const oldest = this.#body.lastElementChild;
      this.#entries.delete(oldest.dataset.cursor);
      oldest.remove();
    }
    this.#render();
  }

  #render() {
    const shown = this.#body.rows.length;
    this.#empty.hidden = shown > 0;
    this.#count.textContent =
      this.#received > shown
        ? `${this.#received.toLocaleString("en-US")} received · newest ${shown} shown`
        : `${this.#received.toLocaleString("en-US")} received`;
  }

  #select(selected) {
    for (const current of this.#body.querySelectorAll("tr[aria-current]")) {
      current.removeAttribute("aria-current");
      current.querySelector("button").setAttribute("aria-pressed", "false");
    }
    selected.setAttribute("aria-current", "true");
    selected.querySelector("button").setAttribute("aria-pressed", "true");
    this.#onSelect(this.#entries.get(selected.dataset.cursor));
  }
}

function row({ cursor, type, event, receivedAt }) {
  const tr = document.createElement("tr");
  tr.dataset.cursor = cursor;
  tr.className = "fresh";
  const eventMs = parseTimestamp(event.time);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cursor";
  button.textContent = cursor;
  button.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-label", `Event ${cursor}: show its trace`);
  tr.append(
    cell(button),
    cell(type, "type"),
    cell(event.subject ?? "_", "aggregate"),
    cell(event.id, "event-id", event.id),
    cell(formatClock(eventMs), "time", event.time),
    cell(formatSeconds((receivedAt.getTime() - eventMs) / 1000), "latency"),
  );
  return tr;
}

function cell(content, className = "", title = "") {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (title) td.title = title;
  td.append(content);
  return td;
}
