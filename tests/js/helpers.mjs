// Helpers of the client library's tests: start the real build/parley, register users, wait for
// conditions with a deadline (never a bare sleep as synchronisation).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connect } from '../../clients/js/parley.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PARLEY_BIN = process.env.PARLEY_BIN || join(root, 'build', 'parley');
export const tag = Math.random().toString(36).slice(2, 8);

/** Polls cond() until it is truthy or ms pass (then throws what() said). */
export async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A single node on a fresh data dir. restart() starts it again on the same port and data (after
 * a kill -9), as an operator would.
 */
export class Server {
  constructor(flags = []) {
    this.data = mkdtempSync(join(tmpdir(), 'parley-js-'));
    this.flags = flags;
    this.port = 0;
    this.proc = null;
    this.log = '';
  }

  async start() {
    const proc = spawn(PARLEY_BIN, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data', this.data,
      '--argon2-mem-kib', '1024', ...this.flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr.on('data', (d) => { this.log = (this.log + d).slice(-20000); });
    let out = '';
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line in 30 s:\n${this.log}`)), 30000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /^ready (http:\/\/127\.0\.0\.1:(\d+))/m.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${this.log}`)); });
    });
    this.url = url;
    this.port = Number(new URL(url).port);
    return url;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill9() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /**
   * SIGSTOP, and wait until every thread is stopped: the signal reaches the threads one by one,
   * and under load a worker may still answer a frame in between.
   */
  async stall() {
    const pid = this.proc.pid;
    this.proc.kill('SIGSTOP');
    const allStopped = () => readdirSync(`/proc/${pid}/task`).every((t) => {
      try { return /^\d+ \(.*\) [tT]/.test(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')); } catch { return true; }
    });
    await waitFor(allStopped, 5000, 'every thread of the server to stop');
  }

  resume() { this.proc.kill('SIGCONT'); }

  async restart() { await this.kill9(); return this.start(); }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGCONT');
      await this.kill9();
    }
    rmSync(this.data, { recursive: true, force: true });
  }
}

/** POST /api/register; returns the token. */
export async function register(base, user, password = 'correct horse battery') {
  const res = await fetch(`${base}/api/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`register ${user}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** A client on Node (the ws package as its WebSocket), with fast back-off for tests. */
export function client(url, token, extra = {}) {
  return connect({ url, token, WebSocket, backoff: { baseMs: 50, maxMs: 500 }, ...extra });
}

export async function opened(c, ms = 15000) {
  await waitFor(() => c.state === 'open', ms, () => `state open (is ${c.state}: ${c.reason})`);
}

/**
 * Records what a reader receives in a room: the seqs and client_msg_ids in order, and counts
 * each client_msg_id (a doubled message shows as a count of 2).
 */
export function collect(c, room) {
  const got = { seqs: [], cmids: new Map(), order: [] };
  c.on('message', (m) => {
    if (m.room !== room) return;
    got.seqs.push(m.seq);
    got.order.push(m.client_msg_id);
    got.cmids.set(m.client_msg_id, (got.cmids.get(m.client_msg_id) || 0) + 1);
  });
  return got;
}
