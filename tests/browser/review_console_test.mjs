// Browser test of the maintainers' review console, in headless Chromium (Debian's chromium,
// driven by playwright-core). Real processes: a `switchboard broker --console 0` and two
// partner agents on loopback, in a temporary directory.
//
//   node review_console_test.mjs SWITCHBOARD_BIN SCREENSHOT_DIR
//
// It signs in, opens a pending phone change, approves it and waits for the new number at the
// other partner's agent; checks that an organization named <script>alert(1)</script> shows as
// text (no dialog ever opens); and that an action without the CSRF token is refused (403).
// Screenshots: SCREENSHOT_DIR/review-queue.png (the queue) and SCREENSHOT_DIR/review-diff.png
// (the side-by-side before/after of the phone change).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const [bin, shots] = process.argv.slice(2);
if (!bin || !shots) {
  console.error('usage: node review_console_test.mjs SWITCHBOARD_BIN SCREENSHOT_DIR');
  process.exit(2);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed: run `npm ci` in tests/browser (./dev.sh does)');
  process.exit(1);
}
const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.error(`no browser at ${CHROMIUM}: install Debian's chromium (./dev.sh does)`);
  process.exit(1);
}

const ORG_A = '11111111-1111-4111-8111-111111111111';
const ORG_B = '22222222-2222-4222-8222-222222222222';
const PHONE = '0000000a-0000-4000-8000-000000000001';
const HOSTILE = '<script>alert(1)</script>';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-'));
const children = [];
let failed = false;

function log(line) { console.log(`  ${line}`); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms = 15000) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(50);
  }
}

function run(...args) {
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function start(name, args, runtime) {
  const out = fs.openSync(path.join(tmp, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  children.push(child);
  return waitFor(`${name} to start`, () => {
    const j = JSON.parse(fs.readFileSync(runtime, 'utf8'));
    return j.pid === child.pid ? j : null;
  });
}

// A client of a process's local API (bearer token from its data directory).
// A request to the console from outside a browser (no Sec-Fetch-Site, no Origin): what any
// process on 127.0.0.1 can send. Resolves to {status, body (parsed JSON), cookies}.
function rawRequest(url, method, headers = {}, body = '') {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text || 'null'), cookies: res.headers['set-cookie'] || [] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function client(dir, api) {
  const token = fs.readFileSync(path.join(dir, 'api.token'), 'utf8').trim();
  return async (method, p, body) => {
    const res = await fetch(`http://${api}${p}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${JSON.stringify(data)}`);
    return data;
  };
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const dirs = { broker: path.join(tmp, 'broker'), a: path.join(tmp, 'a'), b: path.join(tmp, 'b') };
  run('init', '--broker', '--data', dirs.broker, '--org', 'coordinator');
  run('init', '--data', dirs.a, '--org', ORG_A);
  run('init', '--data', dirs.b, '--org', ORG_B);
  const brokerInfo = await start('broker', ['broker', '--data', dirs.broker, '--listen', 'tcp://127.0.0.1:*',
    '--api', '127.0.0.1:0', '--console', '0'], path.join(dirs.broker, 'broker.json'));
  const consoleUrl = brokerInfo.console;
  assert.match(consoleUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  log(`broker: sync ${brokerInfo.listen}, console ${consoleUrl}`);
  const brokerApi = client(dirs.broker, brokerInfo.api);
  for (const d of [dirs.a, dirs.b]) {
    run('enroll', 'add', '--data', dirs.broker, '--role', 'partner', '--key', path.join(d, 'identity.pub'));
  }
  const agents = {};
  for (const name of ['a', 'b']) {
    const info = await start(name, ['agent', '--data', dirs[name], '--api', '127.0.0.1:0', '--broker',
      brokerInfo.listen, '--broker-key', path.join(dirs.broker, 'identity.pub')], path.join(dirs[name], 'agent.json'));
    agents[name] = client(dirs[name], info.api);
    await waitFor(`${name} to connect`, async () => (await agents[name]('GET', '/v1/status')).sync.state === 'ready');
  }

  // A lists itself and its hotline; the setup vets and publishes both through the broker API.
  await agents.a('PUT', `/v1/records/${ORG_A}`, { kind: 'organization', fields: { name: 'Harbor Light Shelter' } });
  await agents.a('PUT', `/v1/records/${PHONE}`, { kind: 'phone', fields: { organization_id: ORG_A, number: '+14155550123', type: 'voice' } });
  const first = await waitFor('the first two items', async () => {
    const q = await brokerApi('GET', '/v1/review');
    return q.items.length === 2 ? q.items : null;
  });
  await brokerApi('POST', '/v1/review/approve', { ids: first.map((i) => i.id) });
  await waitFor('B to show the published number', async () =>
    (await agents.b('GET', `/v1/records/${PHONE}`)).fields.number?.value === '+14155550123');

  // B registers an organization with a hostile name; A changes its hotline number.
  await agents.b('PUT', `/v1/records/${ORG_B}`, { kind: 'organization', fields: { name: HOSTILE } });
  await agents.a('PUT', `/v1/records/${PHONE}`, { fields: { number: '+14155550999' } });
  await waitFor('both new items', async () => (await brokerApi('GET', '/v1/review')).items.length === 2);
  log('queue: a pending phone change and a new organization named <script>alert(1)</script>');

  // A fresh profile directory (--user-data-dir) for every run.
  const context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const dialogs = [];
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(consoleUrl);
    await page.waitForSelector('#signin:not([hidden])');
    // A wrong token is refused.
    await page.fill('#token', 'not-the-token');
    await page.click('#signin-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent.includes('wrong token'));
    const token = fs.readFileSync(path.join(dirs.broker, 'console.token'), 'utf8').trim();
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('tr[data-testid=queue-row]');
    log('signed in with DIR/console.token');

    const cookies = await context.cookies();
    const consolePort = new URL(consoleUrl).port;
    const session = cookies.find((c) => c.name === `sb_console_${consolePort}`);
    assert.ok(session, 'a session cookie named for the console\'s port');
    assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
    assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the cookie');

    // The CSRF token is handed back to the console's own page (a same-origin fetch) ...
    const ownPage = await page.evaluate(() => fetch('/api/session').then((r) => r.json()));
    assert.equal(ownPage.signed_in, true);
    assert.match(ownPage.csrf, /^[0-9a-f]{64}$/);
    // ... never on the cookie alone: a local process that got the cookie (cookies ignore
    // ports, so any server on 127.0.0.1 the browser visits receives it) learns nothing.
    const stolen = await rawRequest(`${consoleUrl}api/session`, 'GET', { Cookie: `${session.name}=${session.value}` });
    assert.equal(stolen.status, 200);
    assert.equal(stolen.body.signed_in, true);
    assert.equal(stolen.body.csrf, null, 'no CSRF token for the cookie alone');
    const forged = await rawRequest(`${consoleUrl}api/session`, 'GET',
      { Cookie: `${session.name}=${session.value}`, Origin: 'http://127.0.0.1:1' });
    assert.equal(forged.body.csrf, null, 'no CSRF token for another origin');
    log('GET /api/session: the CSRF token for the console\'s own page only, not for the cookie alone');

    // Someone trying wrong tokens does not lock the maintainers out.
    const statuses = [];
    for (let i = 0; i < 12; ++i) {
      statuses.push((await rawRequest(`${consoleUrl}api/session`, 'POST', {}, JSON.stringify({ token: `wrong-${i}` }))).status);
    }
    assert.equal(statuses[0], 401);
    assert.equal(statuses[11], 429, 'wrong tokens are slowed down');
    const right = await rawRequest(`${consoleUrl}api/session`, 'POST', {}, JSON.stringify({ token }));
    assert.equal(right.status, 200, 'the right token still signs in after 12 wrong ones');
    log(`12 wrong sign-ins (${statuses[0]} … ${statuses[11]}), then the right token: ${right.status}`);

    // The hostile name is text.
    const orgCells = await page.$$eval('tr[data-kind=new_organization] [data-testid=org-name]', (cells) => cells.map((c) => c.textContent));
    assert.deepEqual(orgCells, [HOSTILE]);
    assert.equal(await page.$$eval('main script', (s) => s.length), 0, 'no script element was created');
    await page.screenshot({ path: path.join(shots, 'review-queue.png'), fullPage: true });
    log(`screenshot: ${path.join(shots, 'review-queue.png')}`);

    // Open the organization too: its name shows as the title, as text.
    await page.click('tr[data-kind=new_organization]');
    await page.waitForSelector('[data-testid=item-title]');
    assert.equal(await page.textContent('[data-testid=item-title]'), HOSTILE);
    await page.click('#back');
    await page.waitForSelector('tr[data-testid=queue-row]');

    // Filters: kind and field.
    await page.selectOption('#f-kind', 'moderated_change');
    await page.fill('#f-field', 'number');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-testid=queue-row]').length === 1 &&
      document.querySelector('tr[data-testid=queue-row]').dataset.kind === 'moderated_change');

    // The pending phone change, side by side.
    await page.click('tr[data-kind=moderated_change][data-field=number]');
    await page.waitForSelector('[data-testid=diff]');
    assert.equal(await page.textContent('[data-testid=before]'), '+14155550123');
    assert.equal(await page.textContent('[data-testid=after]'), '+14155550999');
    await page.screenshot({ path: path.join(shots, 'review-diff.png'), fullPage: true });
    log(`screenshot: ${path.join(shots, 'review-diff.png')}`);

    // An action without the CSRF token (or with a wrong one) is refused, and changes nothing.
    const itemId = (await page.textContent('.item-head .muted')).trim();
    const refused = await page.evaluate(async (id) => {
      const post = (headers) => fetch(`/api/review/${id}/approve`, { method: 'POST', headers, body: '{}' }).then((r) => r.status);
      return [await post({ 'Content-Type': 'application/json' }),
        await post({ 'Content-Type': 'application/json', 'X-CSRF-Token': '0'.repeat(64) })];
    }, itemId);
    assert.deepEqual(refused, [403, 403]);
    const still = await brokerApi('GET', `/v1/review/${itemId}`);
    assert.equal(still.id, itemId, 'the refused approval changed nothing');
    log('approval without the CSRF token: 403, nothing changed');

    // Approve, and see the number reach partner B.
    await page.click('[data-testid=approve]');
    await page.waitForFunction(() => document.getElementById('toast').textContent.startsWith('Approved'));
    const t0 = Date.now();
    await waitFor('B to show the approved number', async () =>
      (await agents.b('GET', `/v1/records/${PHONE}`)).fields.number?.value === '+14155550999');
    log(`approved in the console; partner B shows +14155550999 after ${Date.now() - t0} ms`);
    const own = await agents.a('GET', `/v1/records/${PHONE}`);
    assert.equal(own.fields.number.pending, false);

    // Directory search finds the hostile organization, as text.
    await page.click('.tab[data-tab=directory]');
    await page.fill('#s-q', 'script');
    await page.click('#search button[type=submit]');
    // (The tab itself lists everything first: wait for the filtered answer.)
    await page.waitForFunction(() => document.getElementById('dir-total').textContent.startsWith('1 record'));
    assert.deepEqual(await page.$$eval('tr[data-testid=dir-row]', (rows) => rows.map((r) => r.cells[0].textContent)), [HOSTILE]);
    // Referral counts and the audit log render.
    await page.click('.tab[data-tab=referrals]');
    await page.waitForSelector('[data-testid=referral-counts], [data-testid=referrals-unavailable]');
    await page.click('.tab[data-tab=audit]');
    await page.waitForSelector('[data-testid=audit-chain]');
    assert.match(await page.textContent('[data-testid=audit-chain]'), /^Hash chain verified/);
    // The console's approval is in the audit log: who, what, which record (never values).
    await page.waitForFunction((phone) => [...document.querySelectorAll('#audit-body td')]
      .some((td) => td.textContent === phone) &&
      [...document.querySelectorAll('#audit-body td')].some((td) => td.textContent === 'review.approve'), PHONE);

    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(pageErrors, [], 'no script error');
  } finally {
    await context.close();
  }
}

try {
  await main();
  console.log('review console browser test: ok');
} catch (e) {
  failed = true;
  console.error(`review console browser test FAILED: ${e.stack || e}`);
  for (const name of ['broker', 'a', 'b']) {
    const f = path.join(tmp, `${name}.log`);
    if (fs.existsSync(f)) console.error(`--- ${name}.log ---\n${fs.readFileSync(f, 'utf8').slice(-3000)}`);
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)))));
  if (!failed) fs.rmSync(tmp, { recursive: true, force: true });
  else console.error(`kept ${tmp}`);
}
process.exit(failed ? 1 : 0);
