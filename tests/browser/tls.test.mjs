// Browser test over TLS: Chromium loads the web client from https://127.0.0.1:PORT/ and two
// users chat over wss. The server's certificate comes from a throwaway CA; Chromium trusts it
// only because its public key is pinned (--ignore-certificate-errors-spki-list), and a browser
// without the pin is shown to refuse it. Run through run-tls.sh, which makes the certificate,
// starts the server and sets PARLEY_URL and PARLEY_SPKI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.PARLEY_URL;
const SPKI = process.env.PARLEY_SPKI;
const OUT = join(dirname(fileURLToPath(import.meta.url)), 'out');
const WAIT = 15_000;
const tag = Math.random().toString(36).slice(2, 8);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function launch(extraArgs) {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...ARGS, ...extraArgs],
  });
}

let browser;

before(async () => {
  assert.ok(BASE?.startsWith('https://'), 'PARLEY_URL must be https://...; run-tls.sh sets it');
  assert.ok(SPKI, 'PARLEY_SPKI must be set; run-tls.sh sets it');
  mkdirSync(OUT, { recursive: true });
  browser = await launch([`--ignore-certificate-errors-spki-list=${SPKI}`]);
});

after(async () => { await browser?.close(); });

async function openClient() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  const problems = [];
  const sockets = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`); });
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const response = await page.goto(BASE + '/');
  return { context, page, problems, sockets, response };
}

async function waitForStatus(page, text) {
  try {
    await page.waitForFunction((t) => document.querySelector('#status')?.textContent === t, text, { timeout: WAIT });
  } catch (e) {
    const status = await page.textContent('#status'), error = await page.textContent('#error');
    throw new Error(`#status never became "${text}" (status "${status}", error "${error}")`, { cause: e });
  }
}

async function register(page, user) {
  await page.fill('#user', user);
  await page.fill('#password', 'correct horse battery');
  await page.click('#register');
  await waitForStatus(page, 'connected');
}

test('the page over https, the chat over wss', { timeout: 90_000 }, async () => {
  const alice = await openClient(), bob = await openClient();
  const aliceName = `alice_${tag}`, bobName = `bob_${tag}`, room = `tls-${tag}`;
  try {
    // The page came over TLS with the pinned certificate.
    const security = await alice.response.securityDetails();
    assert.ok(security, 'no TLS details for the page');
    assert.match(security.protocol, /^TLS 1\.[23]$/);
    assert.equal(security.subjectName, '127.0.0.1');
    assert.equal(security.issuer, 'parley browser test CA');

    await register(alice.page, aliceName);
    await register(bob.page, bobName);
    await alice.page.fill('#room-name', room);
    await alice.page.click('#create-room');
    await alice.page.locator('#presence li', { hasText: aliceName }).waitFor({ timeout: WAIT });
    await bob.page.fill('#room-name', room);
    await bob.page.click('#join-room');
    await bob.page.locator('#presence li', { hasText: aliceName }).waitFor({ timeout: WAIT });

    const text = `over wss ${tag}`;
    await alice.page.fill('#text', text);
    await alice.page.press('#text', 'Enter');
    await bob.page.locator('#messages .msg', { hasText: text }).waitFor({ timeout: WAIT });
    await bob.page.fill('#text', 'and back');
    await bob.page.click('#send');
    await alice.page.locator('#messages .msg', { hasText: 'and back' }).waitFor({ timeout: WAIT });

    // Every WebSocket the page opened was wss to this server.
    for (const c of [alice, bob]) {
      assert.ok(c.sockets.length >= 1, 'no WebSocket opened');
      for (const url of c.sockets) assert.ok(url.startsWith(BASE.replace('https://', 'wss://') + '/ws?'), url);
    }
    await bob.page.screenshot({ path: join(OUT, 'tls.png') });
    assert.deepEqual([...alice.problems, ...bob.problems], []);
  } catch (e) {
    await bob.page.screenshot({ path: join(OUT, 'tls-failure-bob.png') }).catch(() => {});
    await alice.page.screenshot({ path: join(OUT, 'tls-failure-alice.png') }).catch(() => {});
    throw e;
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('without the pin, Chromium refuses the certificate', { timeout: 30_000 }, async () => {
  const unpinned = await launch([]);
  try {
    const page = await unpinned.newPage();
    await assert.rejects(page.goto(BASE + '/'), /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await unpinned.close();
  }
});
