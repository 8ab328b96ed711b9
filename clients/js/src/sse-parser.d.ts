/** Types of sse-parser.js: an incremental `text/event-stream` parser. */

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

export interface SseHandlers {
  onMessage: (message: SseMessage) => void;
  onComment?: (text: string) => void;
}

export declare class SseParser {
  constructor(handlers: SseHandlers);
  /** Parse the next chunk of decoded text, of any size. */
  push(text: string): void;
}
