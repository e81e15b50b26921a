// Types of parley.mjs, the JavaScript client of the parley chat server (protocol version 1).

export type ParleyState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectOptions {
  /** ws(s)://host/ws or an http(s):// base (then /ws). Several: each attempt takes the next. */
  url: string | string[];
  token: string;
  /** 8-64 chars of [A-Za-z0-9_-]; default: the one the server's welcome gives. */
  session?: string;
  /** A WebSocket constructor (browser-compatible); default globalThis.WebSocket. */
  WebSocket?: unknown;
  /** Full-jitter exponential back-off: a delay in [0, min(maxMs, baseMs * 2^attempt)). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Requests and sends awaiting a result (default 1024); past it: 'rate_limited', local. */
  maxPending?: number;
  /** A ttlMs request fails locally with 'timeout' after ttlMs + this (default 1500). */
  ttlMarginMs?: number;
  /** No welcome within it: drop the attempt and try again (default 10000). */
  connectTimeoutMs?: number;
  /** A ping this often while open (default 25000; 0: off). */
  pingIntervalMs?: number;
  /** A ping unanswered this long drops the connection (default 10000). */
  pingTimeoutMs?: number;
  /** Browsers: after a failed upgrade, ask HTTP whether the token is refused (default true). */
  checkToken?: boolean;
}

export interface Result { type: 'result'; id: string; ok: true; [field: string]: unknown }

export interface MessageFrame {
  type: 'message'; room: string; seq: number; msg_id: string; from: string; text: string; ts: number;
  client_msg_id?: string;
}

export interface EventFrame { type: 'event'; event: string; room: string; user: string; [field: string]: unknown }

export interface WelcomeFrame { type: 'welcome'; session: string; user: string; instance?: string; epoch?: string }

export interface SendResult { room: string; seq: number; msg_id: string; ts: number; client_msg_id: string }

export interface StateChange { state: ParleyState; previous: ParleyState; reason: string; code?: number }

export class ParleyError extends Error {
  /** A protocol error code, or a local one: 'timeout' (local: true), 'disconnected', 'closed'. */
  code: string;
  local?: boolean;
  outcome?: string;
  room?: string;
  client_msg_id?: string;
  constructor(code: string, message?: string, extra?: object);
}

export interface ParleyEvents {
  statechange: StateChange;
  welcome: WelcomeFrame;
  message: MessageFrame;
  event: EventFrame;
  typing: EventFrame;
  joined: { room: string; head: number; rejoin: boolean };
  epochchange: { previous: string; epoch: string };
  error: ParleyError;
}

export class ParleyClient {
  constructor(options: ConnectOptions);
  readonly state: ParleyState;
  readonly reason: string;
  readonly session: string | null;
  readonly user: string | null;
  readonly instance: string | null;
  readonly epoch: string | null;
  readonly attempts: number;
  on<K extends keyof ParleyEvents>(type: K, fn: (arg: ParleyEvents[K]) => void): () => void;
  off<K extends keyof ParleyEvents>(type: K, fn: (arg: ParleyEvents[K]) => void): void;
  open(): void;
  close(reason?: string): void;
  reconnect(): void;
  request(op: string, fields?: Record<string, unknown>, options?: { ttlMs?: number }): Promise<Result>;
  join(room: string, options?: { since?: number }): Promise<Result & { room: string; head: number }>;
  leave(room: string): Promise<Result>;
  send(room: string, text: string, options?: { clientMsgId?: string; ttlMs?: number }): Promise<SendResult>;
  rooms(): { room: string; lastSeq: number | undefined; joined: boolean }[];
  lastSeq(room: string): number | undefined;
  pendingSends(): { room: string; text: string; client_msg_id: string }[];
  history(room: string, page?: { before?: number; limit?: number }, options?: { ttlMs?: number }):
    Promise<Result & { room: string; messages: MessageFrame[]; has_more: boolean }>;
  createRoom(room: string, opts?: { private?: boolean }, options?: { ttlMs?: number }): Promise<Result>;
  invite(room: string, user: string, options?: { ttlMs?: number }): Promise<Result>;
  dm(user: string, options?: { ttlMs?: number }): Promise<Result & { room: string }>;
  typing(room: string, options?: { ttlMs?: number }): Promise<Result>;
  presence(room: string, options?: { ttlMs?: number }): Promise<Result & { online: string[] }>;
  ping(options?: { ttlMs?: number }): Promise<Result>;
}

export function connect(options: ConnectOptions): ParleyClient;
