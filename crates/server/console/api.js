// Talking to the daemon: JSON calls with the bearer token, and the server-sent event stream
// read with fetch (EventSource cannot send an Authorization header), parsed here.

const TOKEN_KEY = 'rampart.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called with the error when the daemon refuses the token (401): the app logs out. */
let onUnauthorized = () => {};
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

function headers(secret) {
  return { Authorization: `Bearer ${secret}`, Accept: 'application/json' };
}

/** GET /api/v1/PATH with query `params`; the JSON body, or an ApiError with the API's message. */
export async function get(path, params = {}, secret = token.get()) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
  const url = `/api/v1/${path}${q.toString() ? `?${q}` : ''}`;
  let r;
  try {
    r = await fetch(url, { headers: headers(secret), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `cannot reach the daemon (${e.message})`);
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      const body = await r.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch {
      // Not JSON: keep the status line.
    }
    const err = new ApiError(r.status, message);
    if (r.status === 401) onUnauthorized(err);
    throw err;
  }
  return r.json();
}

/**
 * Parses text/event-stream: feed it chunks of text, it calls `emit(event, data)` for each
 * complete event. Handles CRLF, comments, several data lines, and events split across chunks.
 */
export class EventParser {
  constructor(emit) {
    this.emit = emit;
    this.buffer = '';
    this.event = '';
    this.data = [];
    this.afterCR = false;
  }

  push(text) {
    this.buffer += text;
    // The LF of a CRLF whose CR ended the previous chunk.
    if (this.afterCR && this.buffer.startsWith('\n')) this.buffer = this.buffer.slice(1);
    this.afterCR = false;
    let nl;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const crlf = this.buffer[nl] === '\r' && this.buffer[nl + 1] === '\n';
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (this.buffer[nl] === '\r' && nl + 1 === this.buffer.length) this.afterCR = true;
      this.buffer = this.buffer.slice(nl + (crlf ? 2 : 1));
      this.line(line);
    }
    // A line that never ends is not kept forever.
    if (this.buffer.length > 4 << 20) this.buffer = '';
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.emit(this.event || 'message', this.data.join('\n'));
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

/**
 * Follows /api/v1/events until `stop()` is called: `handlers[event](json)` for each event,
 * `onState('live' | 'reconnecting', why)` as the connection comes and goes. Reconnects with
 * a growing pause; each reconnection is reported so that the app can fill the gap.
 */
export function follow(handlers, onState) {
  let stopped = false;
  let controller = null;
  let pause = 1000;

  async function once() {
    controller = new AbortController();
    const r = await fetch('/api/v1/events', {
      headers: { Authorization: `Bearer ${token.get()}`, Accept: 'text/event-stream' },
      cache: 'no-store',
      signal: controller.signal,
    });
    if (r.status === 401) {
      const err = new ApiError(401, 'the daemon refused the token');
      onUnauthorized(err);
      throw err;
    }
    if (!r.ok || !r.body) throw new ApiError(r.status, `events: ${r.status} ${r.statusText}`);
    onState('live');
    pause = 1000;
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventParser((event, data) => {
      const f = handlers[event];
      if (!f) return;
      let value;
      try {
        value = JSON.parse(data);
      } catch {
        return;
      }
      f(value);
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
        if (!stopped) onState('reconnecting', 'the daemon closed the stream');
      } catch (e) {
        if (stopped || e.status === 401) return;
        onState('reconnecting', e.message);
      }
      await new Promise((res) => setTimeout(res, pause));
      pause = Math.min(pause * 2, 15000);
    }
  })();

  return {
    stop() {
      stopped = true;
      if (controller) controller.abort();
    },
  };
}
