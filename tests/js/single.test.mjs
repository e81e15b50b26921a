// The client library (clients/js/parley.mjs) against a real single node (build/parley): kill -9
// and restart mid-burst, a stalled server, take-over, a refused token, Retry-After.
// Run through run.sh, or: PARLEY_BIN=build/parley node --test tests/js/single.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '../../clients/js/parley.mjs';
import { Server, register, client, opened, collect, waitFor, tag } from './helpers.mjs';

const server = new Server(['--rate-per-sec', '100000', '--rate-burst', '100000']);
let base;

before(async () => { base = await server.start(); });
after(async () => { await server.stop(); });

test('kill -9 and restart mid-burst: nothing missing or doubled, every send confirmed once', { timeout: 120_000 }, async () => {
  const N = 1500, WINDOW = 100, room = `burst-${tag}`;
  const writer = client(base, await register(base, `w_${tag}`));
  const reader = client(base, await register(base, `r_${tag}`));
  try {
    await Promise.all([opened(writer), opened(reader)]);
    const drops = { writer: 0, reader: 0 };
    writer.on('statechange', (s) => { if (s.state === 'reconnecting') drops.writer++; });
    reader.on('statechange', (s) => { if (s.state === 'reconnecting') drops.reader++; });
    await writer.createRoom(room);
    await reader.join(room);
    const got = collect(reader, room);

    // The burst: N sends, at most WINDOW without a result; the server is killed and restarted
    // (same port, same data) once a third is confirmed, while sends are in flight.
    const confirmed = new Map();   // client_msg_id -> [result, ...]
    let issued = 0, inflight = 0, pendingAtKill = -1, killed = null;
    await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`${confirmed.size} of ${N} sends confirmed after 45 s`)), 45_000).unref();
      const pump = () => {
        while (inflight < WINDOW && issued < N) {
          const cmid = `m${String(issued).padStart(5, '0')}-${tag}`;
          issued++; inflight++;
          writer.send(room, `text ${cmid}`, { clientMsgId: cmid }).then((res) => {
            const list = confirmed.get(cmid) || [];
            list.push(res);
            confirmed.set(cmid, list);
            inflight--;
            if (!killed && confirmed.size >= N / 3) {
              pendingAtKill = writer.pendingSends().length;
              killed = server.restart();
            }
            if (confirmed.size === N) resolve();
            else pump();
          }, reject);
        }
      };
      pump();
    });
    await killed;

    await waitFor(() => got.seqs.length >= N, 30_000, () => `the reader to have ${N} messages (has ${got.seqs.length})`);
    await new Promise((r) => setTimeout(r, 300));   // a doubled message after the last would show now

    assert.ok(pendingAtKill > 0, 'sends were in flight at the kill');
    assert.ok(drops.writer >= 1 && drops.reader >= 1, `both clients reconnected (${JSON.stringify(drops)})`);
    // Every send confirmed exactly once, with a distinct seq.
    assert.equal(confirmed.size, N);
    for (const [cmid, list] of confirmed) assert.equal(list.length, 1, `${cmid} confirmed ${list.length} times`);
    const resultSeq = new Map([...confirmed].map(([cmid, [r]]) => [cmid, r.seq]));
    assert.equal(new Set(resultSeq.values()).size, N, 'each send has its own seq');
    // The reader: seqs 1..N in order (single node: consecutive), each message once.
    const doubled = [...got.cmids].filter(([, n]) => n > 1).map(([c]) => c);
    assert.deepEqual(doubled, [], 'no message doubled');
    assert.equal(got.seqs.length, N, 'no message doubled or extra');
    assert.deepEqual(got.seqs, Array.from({ length: N }, (_, i) => i + 1), 'no message missing, in order');
    // What the reader saw for each client_msg_id is what its send was confirmed with.
    got.order.forEach((cmid, i) => assert.equal(resultSeq.get(cmid), got.seqs[i], `seq of ${cmid}`));
    // And the stored history agrees: a send stored twice would be in it twice.
    const page = await reader.history(room, { limit: 200 });
    assert.equal(page.messages.at(-1).seq, N);
  } finally {
    writer.close(); reader.close();
  }
});

test('a ttl_ms request against a stalled server (SIGSTOP) times out in time', { timeout: 30_000 }, async () => {
  const c = client(base, await register(base, `t_${tag}`), { ttlMarginMs: 1000 });
  const room = `stall-${tag}`;
  try {
    await opened(c);
    await c.createRoom(room);
    await server.stall();
    try {
      const t0 = Date.now();
      const outcomes = await Promise.allSettled([
        c.ping({ ttlMs: 300 }),
        c.send(room, 'never', { ttlMs: 300 }),
        c.request('history', { room }, { ttlMs: 300 }),
      ]);
      const took = Date.now() - t0;
      outcomes.forEach((o, i) => {
        assert.equal(o.status, 'rejected', `request ${i}: ${JSON.stringify(o.value)}`);
        assert.equal(o.reason.code, 'timeout');
      });
      assert.ok(took >= 300 && took < 300 + 1000 + 1000, `answered in ${took} ms (ttl 300 + margin 1000)`);
      assert.equal(c.pendingSends().length, 0, 'the timed-out send is no longer pending');
    } finally {
      server.resume();
    }
    await c.ping({ ttlMs: 5000 });   // the server is back and the connection still serves
  } finally {
    c.close();
  }
});

test('a second connection of the session takes over: 4001, closed, no reconnect', { timeout: 30_000 }, async () => {
  const token = await register(base, `s_${tag}`);
  const session = `sess-${tag}-1`;
  const first = client(base, token, { session });
  await opened(first);
  assert.equal(first.session, session);
  const second = client(base, token, { session });
  try {
    await opened(second);
    await waitFor(() => first.state === 'closed', 10_000, 'the first client to close');
    assert.match(first.reason, /taken over/);
    await new Promise((r) => setTimeout(r, 700));   // back-off is 50-500 ms: a reconnect would be seen
    assert.equal(first.state, 'closed');
    assert.equal(second.state, 'open');
    await assert.rejects(first.ping(), { code: 'closed' });
  } finally {
    first.close(); second.close();
  }
});

test('a refused token (401): closed with the reason, no retry loop', { timeout: 30_000 }, async () => {
  const c = client(base, 'not-a-token');
  const states = [];
  c.on('statechange', (s) => states.push(s.state));
  await waitFor(() => c.state === 'closed', 10_000, () => `closed (is ${c.state})`);
  assert.match(c.reason, /unauthenticated/);
  assert.deepEqual(states, ['closed']);
});

test('the session id of the welcome is kept across reconnects', { timeout: 30_000 }, async () => {
  const c = client(base, await register(base, `k_${tag}`));
  try {
    await opened(c);
    const session = c.session;
    assert.match(session, /^[A-Za-z0-9_-]{8,64}$/);
    const welcomes = [];
    c.on('welcome', (w) => welcomes.push(w.session));
    c._ws.terminate();   // the network drops
    await waitFor(() => welcomes.length === 1, 10_000, 'a new welcome');
    assert.deepEqual(welcomes, [session]);
  } finally {
    c.close();
  }
});

test('503 with Retry-After on the upgrade: the next attempt waits for it', { timeout: 30_000 }, async () => {
  const attempts = [];
  const http = createServer((req, res) => { res.writeHead(404).end(); });
  http.on('upgrade', (req, socket) => {
    attempts.push(Date.now());
    socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const c = connect({ url: `http://127.0.0.1:${http.address().port}`, token: 't', WebSocket, backoff: { baseMs: 10, maxMs: 20 } });
  try {
    await waitFor(() => attempts.length >= 3, 10_000, () => `3 attempts (${attempts.length})`);
    assert.equal(c.state, 'reconnecting');
    assert.match(c.reason, /503/);
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i] - attempts[i - 1] >= 950, `attempt ${i} came ${attempts[i] - attempts[i - 1]} ms after the previous`);
    }
  } finally {
    c.close();
    http.close();
  }
});

test('GET /parley.mjs serves this library as JavaScript', { timeout: 10_000 }, async () => {
  const { readFileSync } = await import('node:fs');
  const res = await fetch(`${base}/parley.mjs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  const lib = readFileSync(new URL('../../clients/js/parley.mjs', import.meta.url), 'utf8');
  assert.equal(await res.text(), lib);
});

test('a replay that overlaps what was seen is dropped by seq (a server bug costs nothing)', { timeout: 20_000 }, async () => {
  // A fake server that replays from seq 2 whatever since it is given, and records the joins.
  const joins = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  let conns = 0;
  wss.on('connection', (ws) => {
    const n = ++conns;
    ws.send(JSON.stringify({ type: 'welcome', session: 'fake-session-1', user: 'u', instance: 'fake', epoch: 'e1' }));
    ws.on('message', (data) => {
      const f = JSON.parse(data);
      if (f.type !== 'join') return;
      joins.push(f.since);
      ws.send(JSON.stringify({ type: 'result', id: f.id, ok: true, room: f.room, head: n === 1 ? 3 : 4 }));
      for (let seq = n === 1 ? 1 : 2; seq <= (n === 1 ? 3 : 4); seq++) {
        ws.send(JSON.stringify({ type: 'message', room: f.room, seq, msg_id: `m${seq}`, from: 'v', text: `t${seq}`, ts: seq }));
      }
      if (n === 1) setTimeout(() => ws.terminate(), 50);
    });
  });
  await new Promise((r) => wss.once('listening', r));
  const c = connect({ url: `ws://127.0.0.1:${wss.address().port}/ws`, token: 't', WebSocket, backoff: { baseMs: 10, maxMs: 20 } });
  const seqs = [];
  c.on('message', (m) => seqs.push(m.seq));
  try {
    await c.join('r', { since: 0 });
    await waitFor(() => seqs.includes(4), 5_000, () => `seq 4 (got ${seqs})`);
    assert.deepEqual(joins, [0, 3], 'the rejoin resumes from the last seq seen');
    assert.deepEqual(seqs, [1, 2, 3, 4]);
    assert.equal(c.lastSeq('r'), 4);
  } finally {
    c.close();
    wss.close();
  }
});

test('the pending map is bounded: past maxPending a request fails at once', { timeout: 10_000 }, async () => {
  // Nothing listens on the port: everything waits for a welcome that never comes.
  const c = connect({ url: 'ws://127.0.0.1:9/ws', token: 't', WebSocket, maxPending: 3, backoff: { baseMs: 1000, maxMs: 1000 } });
  try {
    const waiting = [c.ping(), c.send('r', 'a'), c.history('r')];
    for (const p of waiting) p.catch(() => {});
    await assert.rejects(c.send('r', 'b'), { code: 'rate_limited', local: true });
    await assert.rejects(c.ping(), { code: 'rate_limited', local: true });
    c.close();
    for (const p of waiting) await assert.rejects(p, { code: 'closed' });
  } finally {
    c.close();
  }
});
