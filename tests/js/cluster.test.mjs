// The client library on a cluster (scripts/cluster: Kafka, PostgreSQL, three instances, a
// persister, nginx): the instance a reader is on is killed (kill -9) in the middle of a burst;
// the reader moves to another instance and resumes with nothing missing and nothing twice.
// Two readers: one through nginx (which sends the reconnect to a live instance), one given the
// instances' own URLs (connect() takes the next URL on each attempt).
// Run by tests/browser/run-cluster.sh on the cluster it starts, which sets PARLEY_CLUSTER_DIR
// (the cluster's dir: its `state` file names the instances' pids and ports) and PARLEY_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register, client, opened, collect, waitFor, tag } from './helpers.mjs';

const DIR = process.env.PARLEY_CLUSTER_DIR;
const BASE = process.env.PARLEY_URL;

/** The instances of scripts/cluster's state file: [{name: 'i1', pid, url}, ...]. */
function instances() {
  const state = Object.fromEntries(readFileSync(join(DIR, 'state'), 'utf8').split('\n')
    .map((l) => /^(\w+)="?([^"]*)"?$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));
  const pids = state.PIDS.split(' '), ports = state.PORTS.split(' ');
  return ports.map((port, k) => ({ name: `i${k + 1}`, pid: Number(pids[k]), url: `http://127.0.0.1:${port}` }));
}

test('an instance killed mid-burst: its readers move to another instance and resume', { skip: !DIR && 'PARLEY_CLUSTER_DIR not set', timeout: 90_000 }, async () => {
  const N = 300, WINDOW = 30, room = `ck-${tag}`;
  const all = instances();
  const viaNginx = client(BASE, await register(BASE, `cr_${tag}`));
  await opened(viaNginx);
  const victim = all.find((i) => i.name === viaNginx.instance);
  assert.ok(victim, `the reader's instance ${viaNginx.instance} is one of ${all.map((i) => i.name)}`);
  const cmdline = readFileSync(`/proc/${victim.pid}/cmdline`, 'utf8');
  assert.ok(cmdline.includes('serve') && cmdline.includes(victim.name), `pid ${victim.pid} is ${victim.name}`);
  const others = all.filter((i) => i !== victim);
  // The second reader: the victim's URL first, then the others.
  const viaList = client([victim.url, ...others.map((i) => i.url)], await register(BASE, `cl_${tag}`));
  const writer = client(others[0].url, await register(BASE, `cw_${tag}`));
  const clients = [viaNginx, viaList, writer];
  try {
    await Promise.all([opened(viaList), opened(writer)]);
    assert.equal(viaList.instance, victim.name);
    assert.notEqual(writer.instance, victim.name);
    await writer.createRoom(room);
    await Promise.all([viaNginx.join(room), viaList.join(room)]);
    const got = [collect(viaNginx, room), collect(viaList, room)];

    const confirmed = new Map();
    let issued = 0, inflight = 0, killedAt = -1;
    await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`${confirmed.size} of ${N} sends confirmed after 60 s`)), 60_000).unref();
      const pump = () => {
        while (inflight < WINDOW && issued < N) {
          const cmid = `c${String(issued).padStart(4, '0')}-${tag}`;
          issued++; inflight++;
          writer.send(room, `text ${cmid}`, { clientMsgId: cmid }).then((res) => {
            confirmed.set(cmid, (confirmed.get(cmid) || 0) + 1);
            inflight--;
            if (killedAt < 0 && confirmed.size >= N / 3) {
              killedAt = confirmed.size;
              process.kill(victim.pid, 'SIGKILL');
            }
            if (confirmed.size === N) resolve();
            else setTimeout(pump, 2);   // a steady stream, so that the kill falls in its middle
          }, reject);
        }
      };
      pump();
    });

    for (const [c, g] of [[viaNginx, got[0]], [viaList, got[1]]]) {
      await waitFor(() => g.cmids.size >= N, 30_000, () => `reader ${c.user} to have ${N} messages (has ${g.cmids.size})`);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const [c, g] of [[viaNginx, got[0]], [viaList, got[1]]]) {
      assert.ok(others.some((i) => i.name === c.instance), `${c.user} moved from ${victim.name} to ${c.instance}`);
      assert.equal(g.seqs.length, N, `${c.user}: each message once`);
      assert.ok(g.seqs.every((s, i) => i === 0 || s > g.seqs[i - 1]), `${c.user}: seqs increase`);
      const expected = Array.from({ length: N }, (_, i) => `c${String(i).padStart(4, '0')}-${tag}`);
      assert.deepEqual([...g.order], expected, `${c.user}: nothing missing, in the order sent`);
    }
    assert.deepEqual([...confirmed.values()].filter((n) => n !== 1), [], 'every send confirmed once');
  } finally {
    for (const c of clients) c.close();
  }
});
