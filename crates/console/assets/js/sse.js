// Server-sent events over fetch: EventSource cannot send an Authorization header, so the
// playground reads the gateway's `text/event-stream` body itself.

/** Splits a growing text into events; `push` returns the `data` of each event completed. */
export class SseParser {
  constructor() {
    this.buffer = '';
  }

  push(text) {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const out = [];
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length) out.push(data.join('\n'));
      end = this.buffer.indexOf('\n\n');
    }
    return out;
  }
}

/** Yields each event's data from a fetch Response's body until `[DONE]` or the end. */
export async function* sseData(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const data of parser.push(value)) {
        if (data === '[DONE]') return;
        yield data;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
