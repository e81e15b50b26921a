// parley.mjs: the JavaScript client of the parley chat server (wire protocol version 1).
// One ES module, no dependencies. Runs in browsers and in Node 18+ (pass a WebSocket
// implementation, e.g. the `ws` package, where there is no global WebSocket).
// The server serves this file at GET /parley.mjs. Reference: clients/js/README.md.
//
//   import { connect } from '/parley.mjs';
//   const c = connect({ url: 'http://127.0.0.1:8080', token });
//   c.on('message', (m) => console.log(m.room, m.seq, m.from, m.text));
//   await c.join('lobby');
//   await c.send('lobby', 'hello');

/** @typedef {'connecting'|'open'|'reconnecting'|'closed'} ParleyState */

/**
 * @typedef {object} ConnectOptions
 * @property {string|string[]} url  ws(s)://host/ws, or an http(s):// base (then /ws is used).
 *   Several URLs: each reconnect attempt takes the next one (a cluster without a balancer).
 * @property {string} token  the token from POST /api/register or /api/login.
 * @property {string} [session]  8-64 chars of [A-Za-z0-9_-]; default: the one the server gives.
 * @property {any} [WebSocket]  a WebSocket constructor; default globalThis.WebSocket.
 * @property {{baseMs?: number, maxMs?: number}} [backoff]  default 500 ms doubling to 15 s.
 * @property {number} [maxPending]  requests and sends awaiting a result; default 1024.
 * @property {number} [ttlMarginMs]  a ttlMs request fails locally after ttlMs + this; 1500.
 * @property {number} [connectTimeoutMs]  no welcome within it: try again; default 10000.
 * @property {number} [pingIntervalMs]  a ping when open, to notice a dead peer; 25000 (0: off).
 * @property {number} [pingTimeoutMs]  a ping unanswered within it drops the connection; 10000.
 * @property {boolean} [checkToken]  after a failed upgrade whose HTTP status is invisible
 *   (browsers), ask GET /api/rooms/-/messages whether the token is still good; default true.
 */

const ROOM_TRANSIENT = new Set(['unavailable', 'rate_limited', 'timeout', 'internal']);
const MAX_IDS_PER_SEND = 8;   // request ids one send keeps listening on (one per re-send)

/** An Error with the protocol's error code (or a local one: 'disconnected', 'closed'). */
export class ParleyError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {object} [extra]  further fields of the protocol error, e.g. outcome
   */
  constructor(code, message, extra) {
    super(message || code);
    this.name = 'ParleyError';
    /** @type {string} */
    this.code = code;
    Object.assign(this, extra);
  }
}

function randomId(bytes) {
  const a = new Uint8Array(bytes);
  const c = globalThis.crypto;
  if (c && c.getRandomValues) c.getRandomValues(a);
  else for (let i = 0; i < bytes; i++) a[i] = Math.floor(Math.random() * 256);   // Node 18 has no global crypto
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (const b of a) s += abc[b & 63];
  return s;
}

/** ws(s)://host/ws from ws(s):// or http(s):// */
function wsUrl(u) {
  const url = new URL(u);
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws';
  }
  return url;
}

/** Seconds or an HTTP date, in ms; null if absent or malformed. */
function retryAfterMs(v) {
  if (v == null) return null;
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return Math.min(Number(s), 3600) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : Math.max(0, Math.min(t - Date.now(), 3600_000));
}

export class ParleyClient {
  /** @param {ConnectOptions} options */
  constructor(options) {
    const o = options || {};
    if (!o.url) throw new TypeError('parley: url is required');
    if (!o.token) throw new TypeError('parley: token is required');
    this._urls = (Array.isArray(o.url) ? o.url : [o.url]).map(wsUrl);
    this._token = o.token;
    this._WS = o.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw new TypeError('parley: no WebSocket here; pass one (e.g. the ws package) as WebSocket');
    this._baseMs = o.backoff?.baseMs ?? 500;
    this._maxMs = o.backoff?.maxMs ?? 15000;
    this._maxPending = o.maxPending ?? 1024;
    this._ttlMarginMs = o.ttlMarginMs ?? 1500;
    this._connectTimeoutMs = o.connectTimeoutMs ?? 10000;
    this._pingIntervalMs = o.pingIntervalMs ?? 25000;
    this._pingTimeoutMs = o.pingTimeoutMs ?? 10000;
    this._checkToken = o.checkToken ?? true;

    /** @type {ParleyState} */
    this.state = 'connecting';
    /** Why the state is 'closed' or 'reconnecting' (a short text); '' when open. */
    this.reason = '';
    /** The session id: the option, else the welcome's; kept across reconnects. */
    this.session = o.session || null;
    this.user = null;
    this.instance = null;
    this.epoch = null;
    this.attempts = 0;

    this._listeners = new Map();
    this._ws = null;
    this._urlIndex = 0;
    this._idPrefix = randomId(6);
    this._nextId = 1;
    this._requests = new Map();   // request id -> {op, fields, resolve, reject, timer}, sends apart
    this._sendIds = new Map();    // request id -> pending send (one send may have several ids)
    this._queued = [];            // requests made while not open, in order
    this._sends = new Map();      // client_msg_id -> pending send
    this._rooms = new Map();      // room -> {lastSeq, joined, waiters}
    this._timers = { retry: null, connect: null, ping: null };
  }

  // ---------------------------------------------------------------- events
  /**
   * Events: 'statechange' {state, previous, reason, code}; 'welcome' (the frame); 'message'
   * (a message frame, each seq of a room once, in order); 'event' (every event frame);
   * 'typing' (event frames of typing); 'joined' {room, head, rejoin}; 'epochchange'
   * {previous, epoch}; 'error' (a ParleyError: a result without id, a room lost on rejoin).
   * @returns {() => void} removes the listener
   */
  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }
  off(type, fn) { this._listeners.get(type)?.delete(fn); }
  _emit(type, arg) {
    for (const fn of [...(this._listeners.get(type) || [])]) {
      try { fn(arg); } catch (e) { setTimeout(() => { throw e; }); }   // a listener's bug is not ours
    }
  }
  _setState(state, reason = '', code) {
    const previous = this.state;
    this.reason = reason;
    if (previous === state) return;
    this.state = state;
    this._emit('statechange', { state, previous, reason, code });
  }

  // ---------------------------------------------------------------- connection
  /** Opens the first connection (connect() calls it). */
  open() {
    if (this.state === 'closed') return;
    this._dial();
  }

  /** Closes for good: pending requests and sends fail with code 'closed'. */
  close(reason = 'closed by the client') { this._shutdown(reason, 1000); }

  /** Reconnects now instead of waiting out the back-off (e.g. on the browser's 'online'). */
  reconnect() {
    if (this.state !== 'reconnecting' || this._ws) return;
    clearTimeout(this._timers.retry);
    this.attempts = 0;
    this._dial();
  }

  _dial() {
    clearTimeout(this._timers.retry);
    const url = new URL(this._urls[this._urlIndex % this._urls.length]);
    this._urlIndex++;
    url.searchParams.set('token', this._token);
    if (this.session) url.searchParams.set('session', this.session);
    const ws = new this._WS(url.toString());
    const attempt = { ws, welcomed: false, status: 0, statusVisible: typeof ws.on === 'function', retryAfter: null, url };
    this._ws = ws;
    this._attempt = attempt;
    // Node's `ws` shows a refused upgrade (401, 503 with Retry-After); a browser never does.
    if (attempt.statusVisible) {
      ws.on('unexpected-response', (_req, res) => {
        attempt.status = res.statusCode;
        attempt.retryAfter = retryAfterMs(res.headers?.['retry-after']);
        res.resume?.();
        ws.terminate();   // emits 'close' (1006)
      });
    }
    ws.onmessage = (ev) => { if (this._ws === ws) this._onFrame(ev.data); };
    ws.onclose = (ev) => this._onClose(attempt, ev.code, ev.reason);
    ws.onerror = () => {};   // 'close' follows and says everything we use
    this._timers.connect = setTimeout(() => {
      if (this._ws === ws && !attempt.welcomed) this._drop(attempt, 0, 'no welcome in time');
    }, this._connectTimeoutMs);
  }

  /** Leaves a connection that is not closing by itself (stalled peer). */
  _drop(attempt, code, why) {
    const ws = attempt.ws;
    try { typeof ws.terminate === 'function' ? ws.terminate() : ws.close(4000, why); } catch { /* already closing */ }
    this._onClose(attempt, code, why);
  }

  _onClose(attempt, code, why) {
    if (this._ws !== attempt.ws) return;   // an older socket, already handled
    this._ws = null;
    clearTimeout(this._timers.connect);
    clearInterval(this._timers.ping);
    if (this.state === 'closed') return;
    for (const r of this._rooms.values()) r.joined = false;
    // Results of sends come back to the session (or the send is re-sent): _sendIds stays.
    // Other requests fail: whether they were applied is unknown, and re-sending is not safe.
    for (const [id, q] of this._requests) {
      this._requests.delete(id);
      clearTimeout(q.timer);
      q.reject(new ParleyError('disconnected', 'the connection dropped before the result; it may or may not have been applied'));
    }
    if (code === 4001) return this._shutdown('taken over by a newer connection of this session', 4001);
    if (attempt.status === 401) return this._shutdown('unauthenticated: the token was refused', 401);
    if (attempt.status === 400) return this._shutdown('bad_request: the upgrade was refused (session id?)', 400);
    if (!attempt.welcomed && !attempt.statusVisible && this._checkToken && typeof globalThis.fetch === 'function') {
      this._probeToken(attempt.url);
    }
    const ceiling = Math.min(this._maxMs, this._baseMs * 2 ** Math.min(this.attempts, 30));
    let delay = Math.random() * ceiling;   // full jitter
    if (attempt.retryAfter != null) delay += attempt.retryAfter;
    this.attempts++;
    const reason = attempt.status ? `HTTP ${attempt.status}` : why || (code ? `closed (${code})` : 'connection failed');
    this._setState('reconnecting', reason, code);
    this._timers.retry = setTimeout(() => { if (this.state === 'reconnecting') this._dial(); }, delay);
  }

  /** A browser cannot see a 401 on the upgrade: ask HTTP whether the token is still good. */
  async _probeToken(wsu) {
    try {
      const u = new URL(wsu);
      u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
      u.pathname = '/api/rooms/-/messages';
      u.search = '?limit=1';
      const res = await globalThis.fetch(u, { headers: { Authorization: `Bearer ${this._token}` } });
      if (res.status === 401 && this.state !== 'open') this._shutdown('unauthenticated: the token was refused', 401);
    } catch { /* unreachable: keep retrying */ }
  }

  _shutdown(reason, code) {
    if (this.state === 'closed') return;
    clearTimeout(this._timers.retry);
    clearTimeout(this._timers.connect);
    clearInterval(this._timers.ping);
    const ws = this._ws;
    this._ws = null;
    if (ws) { try { ws.close(1000); } catch { /* not open yet */ } }
    this._setState('closed', reason, code);
    const err = () => new ParleyError('closed', `the client is closed: ${reason}`);
    for (const q of this._requests.values()) { clearTimeout(q.timer); q.reject(err()); }
    for (const q of this._queued) { clearTimeout(q.timer); q.reject(err()); }
    for (const s of this._sends.values()) { clearTimeout(s.timer); s.reject(err()); }
    for (const r of this._rooms.values()) for (const w of r.waiters) w.reject(err());
    this._requests.clear(); this._queued = []; this._sends.clear(); this._sendIds.clear();
    for (const r of this._rooms.values()) r.waiters = [];
  }

  // ---------------------------------------------------------------- frames
  _onFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch { return this._emit('error', new ParleyError('bad_frame', 'the server sent a frame that is not JSON')); }
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
      case 'welcome': return this._onWelcome(f);
      case 'result': return this._onResult(f);
      case 'message': return this._onMessage(f);
      case 'event':
        this._emit('event', f);
        if (f.event === 'typing') this._emit('typing', f);
        return;
      default: return;   // unknown frame types are ignorable
    }
  }

  _onWelcome(f) {
    this._attempt.welcomed = true;
    clearTimeout(this._timers.connect);
    this.session = f.session || this.session;
    this.user = f.user ?? this.user;
    this.instance = f.instance ?? null;
    if (this.epoch && f.epoch && f.epoch !== this.epoch) {
      // A new message log: the seqs we remember mean nothing there. Rejoin without since.
      for (const r of this._rooms.values()) r.lastSeq = undefined;
      this._emit('epochchange', { previous: this.epoch, epoch: f.epoch });
    }
    this.epoch = f.epoch ?? this.epoch;
    this.attempts = 0;
    this._setState('open');
    this._emit('welcome', f);
    // Order matters: rejoin first (its replay covers what we missed), then re-send what has no
    // result yet (same client_msg_id: stored once), then what was asked while offline.
    for (const [room, r] of this._rooms) this._sendJoin(room, r, r.joinedOnce);
    for (const s of this._sends.values()) this._transmit(s);
    const queued = this._queued;
    this._queued = [];
    for (const q of queued) { if (!q.settled) this._write(q); }
    if (this._pingIntervalMs > 0) {
      this._timers.ping = setInterval(() => this._heartbeat(), this._pingIntervalMs);
    }
  }

  _heartbeat() {
    const attempt = this._attempt;
    this.request('ping', {}, { ttlMs: this._pingTimeoutMs, marginMs: 0 }).catch((e) => {
      if (e.code === 'timeout' && this._attempt === attempt && this._ws === attempt.ws) this._drop(attempt, 0, 'ping unanswered');
    });
  }

  _onResult(f) {
    const s = f.id != null ? this._sendIds.get(f.id) : undefined;
    if (s) return this._settleSend(s, f);
    const q = f.id != null ? this._requests.get(f.id) : undefined;
    if (!q) {
      if (!f.ok && f.id == null) this._emit('error', new ParleyError(f.error?.code || 'internal', f.error?.message, { frame: f }));
      return;   // a late result of a request given up (local timeout, or failed at a drop)
    }
    this._requests.delete(f.id);
    clearTimeout(q.timer);
    if (f.ok) q.resolve(f);
    else q.reject(new ParleyError(f.error?.code || 'internal', f.error?.message, f.error));
  }

  _onMessage(m) {
    const r = this._rooms.get(m.room);
    if (!r) return;   // not joined (a straggler after leave)
    if (r.lastSeq !== undefined && !(m.seq > r.lastSeq)) return;   // a duplicate of a replay
    r.lastSeq = m.seq;
    if (m.client_msg_id && m.from === this.user) {
      const s = this._sends.get(m.client_msg_id);
      if (s && s.room === m.room) this._settleSend(s, { ok: true, room: m.room, seq: m.seq, msg_id: m.msg_id, ts: m.ts });
    }
    this._emit('message', m);
  }

  // ---------------------------------------------------------------- requests
  _newId() { return `${this._idPrefix}-${(this._nextId++).toString(36)}`; }

  /** Requests and sends awaiting a result, queued ones included (bounded by maxPending). */
  _pendingCount() { return this._requests.size + this._queued.length + this._sends.size; }

  /**
   * Sends a command; resolves with its result frame, rejects with a ParleyError (its code is
   * the protocol's, or 'timeout' when ttlMs passed without an answer, 'disconnected' when the
   * connection dropped first, 'closed', or 'rate_limited' past maxPending).
   * 'join', 'leave' and 'send' go through join(), leave() and send().
   * @param {string} op
   * @param {object} [fields]
   * @param {{ttlMs?: number}} [options]
   */
  request(op, fields = {}, options = {}) {
    if (op === 'join') return this.join(fields.room, { since: fields.since });
    if (op === 'leave') return this.leave(fields.room);
    if (op === 'send') return this.send(fields.room, fields.text, { clientMsgId: fields.client_msg_id, ttlMs: options.ttlMs ?? fields.ttl_ms });
    return this._request(op, fields, options);
  }

  _request(op, fields, { ttlMs, marginMs } = {}) {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') return reject(new ParleyError('closed', `the client is closed: ${this.reason}`));
      if (this._pendingCount() >= this._maxPending) {
        return reject(new ParleyError('rate_limited', `more than ${this._maxPending} requests pending in the client`, { local: true }));
      }
      const q = { op, fields, resolve, reject, timer: null, id: null, settled: false, deadline: 0 };
      const done = (fn) => (v) => { if (!q.settled) { q.settled = true; clearTimeout(q.timer); fn(v); } };
      q.resolve = done(resolve);
      q.reject = done(reject);
      if (ttlMs != null) {
        q.deadline = Date.now() + ttlMs;
        // The server answers within ttl_ms plus about a second; a stalled one never does.
        q.timer = setTimeout(() => {
          if (q.id) this._requests.delete(q.id);
          this._queued = this._queued.filter((x) => x !== q);
          q.reject(new ParleyError('timeout', `no answer within ttl ${ttlMs} ms`, { local: true }));
        }, ttlMs + (marginMs ?? this._ttlMarginMs));
      }
      if (this.state === 'open') this._write(q);
      else this._queued.push(q);
    });
  }

  _write(q) {
    q.id = this._newId();
    const frame = { type: q.op, id: q.id, ...q.fields };
    if (q.deadline) {
      const left = q.deadline - Date.now();
      if (left < 1) return;   // its local timeout is about to fire
      frame.ttl_ms = Math.ceil(left);
    }
    this._requests.set(q.id, q);
    this._ws.send(JSON.stringify(frame));
  }

  // ---------------------------------------------------------------- rooms
  /**
   * Joins a room and keeps it joined across reconnects, resuming from the last seq seen.
   * Resolves with the first join's result ({room, head}); rejects on not_found / forbidden.
   * @param {string} room
   * @param {{since?: number}} [options]  replay every message with seq > since
   */
  join(room, { since } = {}) {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') return reject(new ParleyError('closed', `the client is closed: ${this.reason}`));
      let r = this._rooms.get(room);
      if (!r) { r = { lastSeq: undefined, joined: false, joinedOnce: false, waiters: [], retry: 0 }; this._rooms.set(room, r); }
      // A room already followed keeps its own position: each seq is delivered once.
      if (since != null && r.lastSeq === undefined) r.lastSeq = since;
      r.waiters.push({ resolve, reject });
      if (this.state === 'open') this._sendJoin(room, r, false);
    });
  }

  _sendJoin(room, r, rejoin) {
    const fields = { room };
    const sentSince = r.lastSeq;
    if (sentSince !== undefined) fields.since = sentSince;
    this._request('join', fields).then((res) => {
      if (this._rooms.get(room) !== r) return;   // left meanwhile
      r.joined = true;
      r.joinedOnce = true;
      r.retry = 0;
      // Without since nothing is replayed: live messages follow the head.
      if (sentSince === undefined && (r.lastSeq === undefined || r.lastSeq < res.head)) r.lastSeq = res.head;
      const waiters = r.waiters;
      r.waiters = [];
      for (const w of waiters) w.resolve(res);
      this._emit('joined', { room, head: res.head, rejoin });
    }, (e) => {
      if (this._rooms.get(room) !== r) return;
      if (e.code === 'disconnected' || e.code === 'closed') return;   // the next welcome rejoins
      if (rejoin && ROOM_TRANSIENT.has(e.code) && r.retry < 5) {
        const delay = Math.random() * this._baseMs * 2 ** ++r.retry;
        setTimeout(() => { if (this.state === 'open' && this._rooms.get(room) === r) this._sendJoin(room, r, rejoin); }, delay);
        return;
      }
      this._rooms.delete(room);
      for (const w of r.waiters) w.reject(e);
      if (rejoin) { e.room = room; this._emit('error', e); }
    });
  }

  /** Leaves a room: no more messages of it, no rejoin. */
  leave(room) {
    const r = this._rooms.get(room);
    this._rooms.delete(room);
    if (r) for (const w of r.waiters) w.reject(new ParleyError('closed', `left ${room}`));
    if (this.state !== 'open') return Promise.resolve({ type: 'result', ok: true, room });
    return this._request('leave', { room });
  }

  /** The rooms joined (or being joined), with the last seq seen in each. */
  rooms() { return [...this._rooms].map(([room, r]) => ({ room, lastSeq: r.lastSeq, joined: r.joined })); }

  /** The last seq seen in a room, undefined if none. */
  lastSeq(room) { return this._rooms.get(room)?.lastSeq; }

  // ---------------------------------------------------------------- sending
  /**
   * Sends a message. Makes its client_msg_id (unless given) and keeps it until a result: after a
   * reconnect the send goes again with the same id, which the server stores once. Resolves once
   * with {room, seq, msg_id, ts, client_msg_id}.
   * @param {string} room
   * @param {string} text
   * @param {{clientMsgId?: string, ttlMs?: number}} [options]
   */
  send(room, text, { clientMsgId, ttlMs } = {}) {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') return reject(new ParleyError('closed', `the client is closed: ${this.reason}`));
      if (this._pendingCount() >= this._maxPending) {
        return reject(new ParleyError('rate_limited', `more than ${this._maxPending} requests pending in the client`, { local: true }));
      }
      const cmid = clientMsgId || `${Date.now().toString(36)}-${randomId(10)}`;
      if (this._sends.has(cmid)) return reject(new ParleyError('conflict', `a send with client_msg_id ${cmid} is pending`, { local: true }));
      const s = { room, text, cmid, resolve, reject, ids: [], timer: null, deadline: 0 };
      if (ttlMs != null) {
        s.deadline = Date.now() + ttlMs;
        s.timer = setTimeout(() => {
          // The outcome is unknown only if the server stalled: a retry with the same
          // client_msg_id is safe either way.
          this._settleSend(s, { ok: false, error: { code: 'timeout', message: `no answer within ttl ${ttlMs} ms`, local: true, client_msg_id: cmid } });
        }, ttlMs + this._ttlMarginMs);
      }
      this._sends.set(cmid, s);
      if (this.state === 'open') this._transmit(s);
    });
  }

  _transmit(s) {
    const id = this._newId();
    const frame = { type: 'send', id, room: s.room, text: s.text, client_msg_id: s.cmid };
    if (s.deadline) {
      const left = s.deadline - Date.now();
      if (left < 1) return;
      frame.ttl_ms = Math.ceil(left);
    }
    s.ids.push(id);
    if (s.ids.length > MAX_IDS_PER_SEND) this._sendIds.delete(s.ids.shift());
    this._sendIds.set(id, s);
    this._ws.send(JSON.stringify(frame));
  }

  _settleSend(s, f) {
    if (this._sends.get(s.cmid) !== s) return;   // settled already: each send resolves once
    this._sends.delete(s.cmid);
    clearTimeout(s.timer);
    for (const id of s.ids) this._sendIds.delete(id);
    if (f.ok) s.resolve({ room: s.room, seq: f.seq, msg_id: f.msg_id, ts: f.ts, client_msg_id: s.cmid });
    else s.reject(new ParleyError(f.error?.code || 'internal', f.error?.message, { ...f.error, client_msg_id: s.cmid }));
  }

  /** Sends not yet confirmed, oldest first. */
  pendingSends() { return [...this._sends.values()].map((s) => ({ room: s.room, text: s.text, client_msg_id: s.cmid })); }

  // ---------------------------------------------------------------- the other commands
  history(room, { before, limit } = {}, options) {
    const f = { room };
    if (before != null) f.before = before;
    if (limit != null) f.limit = limit;
    return this._request('history', f, options);
  }
  createRoom(room, { private: priv = false } = {}, options) { return this._request('create_room', { room, private: priv }, options); }
  invite(room, user, options) { return this._request('invite', { room, user }, options); }
  dm(user, options) { return this._request('dm', { user }, options); }
  typing(room, options) { return this._request('typing', { room }, options); }
  presence(room, options) { return this._request('presence', { room }, options); }
  ping(options) { return this._request('ping', {}, options); }
}

/**
 * Creates a client and starts connecting.
 * @param {ConnectOptions} options
 * @returns {ParleyClient}
 */
export function connect(options) {
  const c = new ParleyClient(options);
  c.open();
  return c;
}
