// Browser test of the Filegate web console against a real `filegate serve`, in Debian's
// chromium driven by playwright-core. core/console/browser_test.go starts the server
// and runs this with:
//   FILEGATE_URL   http://127.0.0.1:PORT
//   FILEGATE_KEYS  {"AssociationKey","AccessKey","SecretKey"} from `filegate init --json`
//   FILEGATE_LINK  a link printed by `filegate console-link`
//   RECEIVER_URL   http://127.0.0.1:PORT of a webhook receiver: /hook takes the webhook
//                  made here, /rule the gateway.toml rule "notify" (its first POST fails)
//   ARTIFACTS      folder for the screenshots (default .ci/artifacts/console)
//   CHROMIUM       browser executable (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const base = process.env.FILEGATE_URL;
const keys = JSON.parse(process.env.FILEGATE_KEYS || '{}');
const link = process.env.FILEGATE_LINK;
const shots = process.env.ARTIFACTS || '.ci/artifacts/console';
const receiver = process.env.RECEIVER_URL;
assert.ok(base && keys.SecretKey && link && receiver, 'FILEGATE_URL, FILEGATE_KEYS, FILEGATE_LINK and RECEIVER_URL are required');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let passed = 0;
let failed = 0;
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 850 } });
const page = await context.newPage();
page.setDefaultTimeout(10_000);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page.screenshot({ path: path.join(shots, 'failure-' + name.replace(/\W+/g, '-') + '.png'), fullPage: true }).catch(() => {});
  }
}
const shot = (name) => page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
const nav = (label) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label }).click();

try {
  await step('one-time login link signs in', async () => {
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    assert.equal(new URL(page.url()).hash.includes('link='), false, 'the code is removed from the address bar');
    await page.getByRole('cell', { name: 'HTTP' }).waitFor();
    await page.getByText('events today').waitFor();
    await shot('overview');
  });

  await step('the login link works only once', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto('about:blank');
    await page.goto(link);
    await page.getByText('unknown, expired or already used').waitFor();
  });

  await step('sign in with the three keys (a wrong secret shows the API error)', async () => {
    await page.getByLabel('AssociationKey').fill(keys.AssociationKey);
    await page.getByLabel('AccessKey').fill(keys.AccessKey);
    await page.getByLabel('SecretKey').fill('sk_live_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'bad AssociationKey, AccessKey or SecretKey' }).waitFor();
    await shot('signin-error');
    await page.getByLabel('SecretKey').fill(keys.SecretKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
    assert.ok(!stored.includes(keys.SecretKey) && !stored.includes('eyJ'), 'no secret or token in web storage or cookies');
  });

  await step('create an FTP account (bad input shows the error next to the field)', async () => {
    await nav('Accounts');
    await page.getByRole('heading', { name: 'Accounts', exact: true }).waitFor();
    await page.getByLabel('Username').fill('bad name!');
    await page.getByRole('button', { name: 'Create account' }).click();
    const err = page.locator('[data-err-for="Username"]');
    await err.filter({ hasText: 'Username:' }).waitFor();
    assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
    await shot('accounts-error');
    await page.getByLabel('Username').fill('camera01');
    await page.getByLabel('Folder (chroot)').fill('/uploads');
    await page.getByRole('button', { name: 'Create account' }).click();
    const pw = await page.getByTestId('generated-password').textContent();
    assert.ok(pw.length >= 16, 'a generated password is shown once');
    await page.getByRole('cell', { name: 'camera01' }).waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('disabled', { exact: true }).waitFor();
    await shot('accounts');
  });

  await step('upload two files with the file input', async () => {
    await nav('Files');
    await page.getByRole('heading', { name: 'Files', exact: true }).waitFor();
    await page.locator('#upload-files').setInputFiles([
      { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the console\n') },
      { name: 'report.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') },
    ]);
    await page.getByRole('cell', { name: 'hello.txt', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'report.csv', exact: true }).waitFor();
    assert.equal(await page.locator('.uploads .ok').count(), 2, 'both progress rows say done');
    await shot('files');
  });

  await step('an upload whose connection drops is sent again from the beginning by itself', async () => {
    await page.getByText('from the beginning', { exact: true }).waitFor();
    let tries = 0;
    await page.route('**/api/upload', (route) => (tries++ === 0 ? route.abort('connectionreset') : route.continue()));
    await page.locator('#upload-files').setInputFiles([{ name: 'dropped.txt', mimeType: 'text/plain', buffer: Buffer.from('sent twice\n') }]);
    const row = page.locator('.uploads li').filter({ hasText: 'dropped.txt' });
    await row.filter({ hasText: 'restarting from the beginning in 1 s (attempt 2 of 4)' }).waitFor();
    await row.filter({ hasText: 'done (after 2 attempts)' }).waitFor();
    await page.getByRole('cell', { name: 'dropped.txt', exact: true }).waitFor();
    await page.unroute('**/api/upload');
    assert.equal(tries, 2, 'the file went up twice, the second time whole');
  });

  await step('download a zip of the two files', async () => {
    await page.getByRole('checkbox', { name: 'Select hello.txt' }).check();
    await page.getByRole('checkbox', { name: 'Select report.csv' }).check();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download selected as zip' }).click()]);
    const buf = await readFile(await dl.path());
    assert.equal(buf.subarray(0, 2).toString(), 'PK', 'a zip');
    const names = [];
    for (let i = buf.indexOf('PK\x01\x02'); i >= 0; i = buf.indexOf('PK\x01\x02', i + 4)) {
      const n = buf.readUInt16LE(i + 28);
      names.push(buf.subarray(i + 46, i + 46 + n).toString());
    }
    assert.deepEqual(names.sort(), ['hello.txt', 'report.csv']);
  });

  await step('the upload appears in the event log, which updates live', async () => {
    await nav('Events');
    await page.getByRole('heading', { name: 'Events', exact: true }).waitFor();
    const log = page.getByRole('region', { name: 'Event log' });
    await log.getByRole('row').filter({ hasText: 'file.uploaded' }).filter({ hasText: '/hello.txt' }).waitFor();
    // Something happens elsewhere: the open page shows it without a reload.
    const auth = await (await fetch(base + '/apiaccess/auth', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ AssociationKey: keys.AssociationKey, AccessKey: keys.AccessKey, SecretKey: keys.SecretKey }) })).json();
    const res = await fetch(base + '/api/mkdir', { method: 'POST', headers: { Authorization: 'Bearer ' + auth.token, 'Content-Type': 'application/json' }, body: JSON.stringify({ path: '/live-folder' }) });
    assert.equal(res.status, 200);
    await log.getByRole('row').filter({ hasText: 'dir.created' }).filter({ hasText: '/live-folder' }).waitFor({ timeout: 8000 });
    await page.getByLabel('Type').selectOption('file.uploaded');
    await log.getByRole('row').filter({ hasText: 'dir.created' }).first().waitFor({ state: 'detached' });
    await shot('events');
  });

  await step('create an API key with one scope and see its secret once', async () => {
    await nav('API keys');
    await page.getByRole('heading', { name: 'API keys', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('[data-err-for="Scopes"]').filter({ hasText: 'scope' }).waitFor();
    await shot('keys-error');
    await page.getByRole('checkbox', { name: 'file.read' }).check();
    await page.getByLabel('Description').fill('reader');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.locator('[data-field="SecretKey"]').textContent();
    assert.match(secret, /^sk_live_/);
    const ak = await page.locator('[data-field="AccessKey"]').textContent();
    await page.getByRole('row').filter({ hasText: ak }).filter({ hasText: 'file.read' }).waitFor();
    await shot('keys');
    await nav('Overview');
    await nav('API keys');
    await page.getByRole('row').filter({ hasText: ak }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');
  });

  let hookRow;
  await step('automation: create a webhook (bad input shows the error next to the field)', async () => {
    await nav('Automation');
    await page.getByRole('heading', { name: 'Rules', exact: true }).waitFor();
    await page.getByRole('row').filter({ hasText: 'notify' }).filter({ hasText: 'file.uploaded' }).waitFor();
    await page.getByText('No webhooks yet.').waitFor();
    await page.getByLabel('Url', { exact: true }).fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.locator('[data-err-for="Url"]').filter({ hasText: 'want an absolute http or https URL' }).waitFor();
    assert.equal(await page.getByLabel('Url', { exact: true }).getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Url', { exact: true }).fill(receiver + '/hook');
    await page.getByLabel('Folder (path prefix)').fill('in valid');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.locator('[data-err-for="PathPrefix"]').filter({ hasText: 'clean absolute folder' }).waitFor();
    await shot('automation-error');
    await page.getByLabel('Folder (path prefix)').fill('');
    await page.getByRole('checkbox', { name: 'file.uploaded' }).check();
    await page.getByLabel('Secret', { exact: true }).fill('s3cret');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    hookRow = page.getByRole('row').filter({ hasText: receiver + '/hook' });
    await hookRow.filter({ hasText: 'enabled' }).filter({ hasText: 'yes' }).waitFor();
    assert.equal(await page.getByText('s3cret').count(), 0, 'the secret is not shown');
  });

  await step('automation: an upload is delivered to the webhook and shows in its deliveries log', async () => {
    await nav('Files');
    await page.getByRole('heading', { name: 'Files', exact: true }).waitFor();
    await page.locator('#upload-files').setInputFiles([
      { name: 'hooked.txt', mimeType: 'text/plain', buffer: Buffer.from('for the webhook\n') },
      { name: 'flaky.txt', mimeType: 'text/plain', buffer: Buffer.from('for the notify rule\n') },
    ]);
    await page.getByRole('cell', { name: 'flaky.txt', exact: true }).waitFor();
    await nav('Automation');
    await hookRow.getByRole('button', { name: /^Deliveries of webhook/ }).click();
    const log = page.getByRole('region', { name: 'Deliveries log' });
    await log.getByRole('row').filter({ hasText: '/hooked.txt' }).filter({ hasText: '200' }).filter({ hasText: 'delivered' }).waitFor({ timeout: 15_000 });
  });

  await step('automation: a failed rule run is retried', async () => {
    const rule = page.getByRole('row').filter({ hasText: 'notify' });
    await rule.filter({ hasText: '1 failed' }).waitFor({ timeout: 15_000 });
    await rule.getByRole('button', { name: 'Runs of notify' }).click();
    const runs = page.getByRole('region', { name: 'Runs of notify' });
    const run = runs.getByRole('row').filter({ hasText: '/flaky.txt' });
    await run.filter({ hasText: 'failed' }).filter({ hasText: 'answered 500' }).waitFor();
    await shot('automation-failed-run');
    await run.getByRole('button', { name: /^Retry run/ }).click();
    await run.filter({ hasText: 'done' }).waitFor({ timeout: 15_000 });
    await rule.filter({ hasText: '1 done' }).waitFor({ timeout: 15_000 });
    await shot('automation');
  });

  await step('automation: disable and delete the webhook (with confirmation)', async () => {
    await hookRow.getByRole('button', { name: /^Disable webhook/ }).click();
    await hookRow.filter({ hasText: 'disabled' }).waitFor();
    await hookRow.getByRole('button', { name: /^Delete webhook/ }).click();
    const dlg = page.getByRole('dialog', { name: 'Delete webhook' });
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await hookRow.waitFor();
    await hookRow.getByRole('button', { name: /^Delete webhook/ }).click();
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByText('No webhooks yet.').waitFor();
  });

  await step('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await nav('Files');
    await page.getByRole('cell', { name: 'hello.txt', exact: true }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling at phone width (${overflow}px too wide)`);
    await shot('files-phone');
    await nav('Accounts');
    await page.getByRole('cell', { name: 'camera01' }).waitFor();
    await shot('accounts-phone');
  });

  await step('no script errors', async () => {
    // 4xx answers the test provoked on purpose are logged by Chromium as resource errors.
    const real = pageErrors.filter((e) => !/Failed to load resource/.test(e));
    assert.deepEqual(real, []);
  });
} finally {
  await browser.close();
}
console.log(`console: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
