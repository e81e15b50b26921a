// Browser test of the web client served at GET /: two users chat through a real parley server.
// Run through run.sh (which starts the server and sets PARLEY_URL), or by hand:
//   PARLEY_URL=http://127.0.0.1:8080 node --test chat.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.PARLEY_URL;
const OUT = join(dirname(fileURLToPath(import.meta.url)), 'out');
const WAIT = 15_000;
const tag = Math.random().toString(36).slice(2, 8);   // unique names, so a reused server works too

let browser;

before(async () => {
  assert.ok(BASE, 'PARLEY_URL must be set (e.g. http://127.0.0.1:8080); run.sh does it');
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // chromium.launch gives every run a fresh temporary profile (user-data-dir).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => { await browser?.close(); });

// A fresh browser context (own localStorage/sessionStorage) with the page open and errors collected.
async function openClient() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/api/')) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
  const loaded = [];
  page.on('requestfinished', (r) => loaded.push(new URL(r.url()).pathname));
  await page.goto(BASE + '/');
  return { context, page, problems, loaded };
}

async function register(page, user, password) {
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#register');
  await waitForStatus(page, 'connected');
}

async function waitForStatus(page, text) {
  try {
    await page.waitForFunction((t) => document.querySelector('#status')?.textContent === t, text, { timeout: WAIT });
  } catch (e) {
    const status = await page.textContent('#status'), error = await page.textContent('#error');
    throw new Error(`#status never became "${text}" (status "${status}", error "${error}")`, { cause: e });
  }
}

test('two users chat in a public room', { timeout: 90_000 }, async () => {
  const alice = await openClient(), bob = await openClient();
  const aliceName = `alice_${tag}`, bobName = `bob_${tag}`, room = `lobby-${tag}`;
  try {
    await register(alice.page, aliceName, 'correct horse battery');
    await register(bob.page, bobName, 'correct horse battery');

    // alice creates a public room (which also joins it); bob joins it by name.
    await alice.page.fill('#room-name', room);
    await alice.page.click('#create-room');
    await alice.page.locator('#presence li', { hasText: aliceName }).waitFor({ timeout: WAIT });
    await bob.page.fill('#room-name', room);
    await bob.page.click('#join-room');
    await bob.page.locator('#presence li', { hasText: aliceName }).waitFor({ timeout: WAIT });
    // alice learns of bob through member.joined.
    await alice.page.locator('#presence li', { hasText: bobName }).waitFor({ timeout: WAIT });

    // alice types (bob sees the typing indicator) and sends with Enter.
    const text = `hello bob, it is ${tag}`;
    await alice.page.fill('#text', text);
    await bob.page.locator('#typing', { hasText: `${aliceName} is typing` }).waitFor({ timeout: WAIT });
    await alice.page.press('#text', 'Enter');

    const atBob = bob.page.locator('#messages .msg', { hasText: text });
    await atBob.waitFor({ timeout: WAIT });
    assert.match(await atBob.textContent(), new RegExp(aliceName));
    // alice's own copy is confirmed (not pending, not failed).
    await alice.page.locator('#messages .msg:not([data-cmid])', { hasText: text }).waitFor({ timeout: WAIT });
    assert.equal(await alice.page.locator('#messages .msg').count(), 1);

    // bob answers with the Send button.
    await bob.page.fill('#text', 'hi alice');
    await bob.page.click('#send');
    await alice.page.locator('#messages .msg', { hasText: 'hi alice' }).waitFor({ timeout: WAIT });

    assert.equal(await bob.page.textContent('#error'), '');
    await bob.page.screenshot({ path: join(OUT, 'chat.png') });
    assert.deepEqual([...alice.problems, ...bob.problems], []);
    // The page speaks the protocol through the client library (clients/js/parley.mjs).
    assert.ok(alice.loaded.includes('/parley.mjs'), `the page loaded /parley.mjs (${alice.loaded})`);
  } catch (e) {
    await bob.page.screenshot({ path: join(OUT, 'chat-failure-bob.png') }).catch(() => {});
    await alice.page.screenshot({ path: join(OUT, 'chat-failure-alice.png') }).catch(() => {});
    throw e;
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('bad credentials are shown in #error', { timeout: 30_000 }, async () => {
  const { context, page } = await openClient();
  try {
    await page.fill('#user', `nobody_${tag}`);
    await page.fill('#password', 'wrong password');
    await page.click('#login');
    await page.locator('#error', { hasText: 'unauthenticated' }).waitFor({ timeout: WAIT });
    assert.equal(await page.isVisible('#app'), false);
  } finally {
    await context.close();
  }
});
