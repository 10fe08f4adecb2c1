// Drives the Rampart console in Debian's Chromium through playwright-core (which downloads
// no browser). Run by crates/rampart/tests/console.rs, which starts `rampart serve` and the
// traffic; by hand:
//
//   node console.test.mjs --url http://127.0.0.1:18080/ --token rmp_... --artifacts DIR
//
// It prints `READY` on standard output once it is logged in and the live chart draws: the
// driver then starts the attack. `STOP` asks the driver to kill the daemon, `START` to start
// it again on the same store. It fails (exit 1, with failure.png) on any step that does
// not happen in time, and on any error the page logs (a CSP violation is one).

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function args() {
  const out = { url: null, token: null, artifacts: 'test-artifacts/console', chromium: '/usr/bin/chromium', scan: false, intrusion: false, attackTimeout: 90, endTimeout: 120 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 1) {
    const k = a[i].replace(/^--/, '');
    if (k === 'scan') out.scan = true;
    if (k === 'intrusion') out.intrusion = true;
    else if (k === 'attack-timeout') out.attackTimeout = Number(a[++i]);
    else if (k === 'end-timeout') out.endTimeout = Number(a[++i]);
    else out[k] = a[++i];
  }
  if (!out.url || !out.token) {
    console.error('usage: node console.test.mjs --url URL --token TOKEN [--artifacts DIR] [--chromium PATH] [--scan]');
    process.exit(2);
  }
  return out;
}

const opt = args();
mkdirSync(opt.artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'rampart-chromium-'));
const problems = [];
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

// A fresh profile each run: nothing cached from an earlier console version.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  viewport: { width: 1366, height: 768 },
  colorScheme: 'light',
  // No background connections: this machine's network refuses them, and a test needs none.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await context.newPage();
page.on('console', (m) => {
  // Refused requests (the wrong token's 401) are logged by Chromium too; they are tested
  // for by what the page shows. Everything else, CSP violations first, is a failure.
  if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

const shot = async (name, full = false) => {
  await page.screenshot({ path: join(opt.artifacts, `${name}.png`), fullPage: full });
  log(`screenshot ${name}.png`);
};

async function step(name, f) {
  log(name);
  await f();
  if (problems.length) throw new Error(`the page reported errors during "${name}":\n${problems.join('\n')}`);
}

let failed = false;
try {
  await step('the login screen shows', async () => {
    await page.goto(opt.url);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    await shot('01-login');
  });

  await step('a wrong token is refused with the API message', async () => {
    await page.fill('#token-input', 'rmp_not_a_real_token');
    await page.click('#login-button');
    await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10_000 });
    const text = await page.textContent('#login-error');
    if (!/refused|unknown|revoked/i.test(text)) throw new Error(`login error reads: ${text}`);
    await shot('02-login-refused');
  });

  await step('the right token signs in', async () => {
    await page.fill('#token-input', opt.token);
    await page.click('#login-button');
    await page.locator('#app').waitFor({ state: 'visible', timeout: 10_000 });
    const role = await page.textContent('#who-role');
    if (!role) throw new Error('no role in the header');
    await page.waitForFunction(() => /^v\d/.test(document.getElementById('status-text').textContent), null, { timeout: 15_000 });
  });

  await step('the live chart draws and follows the event stream', async () => {
    await page.locator('#live-dot.on').waitFor({ timeout: 15_000 });
    const n0 = Number(await page.getAttribute('#live-chart', 'data-points'));
    await page.waitForFunction((n) => Number(document.getElementById('live-chart').dataset.points) > Math.max(n, 2), n0, { timeout: 15_000 });
    await page.locator('#live-chart path.series-in').waitFor({ state: 'attached', timeout: 5_000 });
  });

  console.log('READY');

  await step('the attack appears in active attacks without a reload', async () => {
    const row = page.locator('#active-attacks tbody tr').first();
    await row.waitFor({ timeout: opt.attackTimeout * 1000 });
    await page.locator('.toast-attack').first().waitFor({ timeout: 5_000 });
    const text = await row.textContent();
    log(`active attack row: ${text}`);
    if (!/flood|amplification/i.test(text)) throw new Error(`the row names no vector: ${text}`);
    if (!(await page.locator('#attacks-card.alerting').count())) throw new Error('active attacks are not shown as an alert');
    // Let traffic of the attack fill the chart a little, then read it by hovering.
    await page.waitForTimeout(4_000);
    const box = await page.locator('#live-chart svg').boundingBox();
    await page.mouse.move(box.x + box.width - 40, box.y + box.height / 2);
    await page.locator('.chart-tip').waitFor({ state: 'visible', timeout: 5_000 });
    await shot('03-overview-attack');
  });

  await step('bits per second and one prefix can be chosen', async () => {
    await page.click('#live-card .segmented button[data-value="bps"]');
    const options = await page.locator('#scope option').evaluateAll((os) => os.map((o) => o.value));
    const prefix = options.find((v) => v.startsWith('203.0.113.')) ?? options.find((v) => v !== 'total');
    if (prefix) await page.selectOption('#scope', prefix);
    const label = await page.locator('#live-chart .chart-label').allTextContents();
    if (!label.some((t) => /bit\/s/.test(t))) throw new Error(`the axis does not read bit/s: ${label}`);
    await page.mouse.move(10, 10);
    await shot('04-overview-bps-prefix');
    await page.selectOption('#scope', 'total');
    await page.click('#live-card .segmented button[data-value="pps"]');
  });

  await step('the attack opens with its fingerprint and timeline', async () => {
    await page.locator('#active-attacks tbody tr').first().click();
    await page.locator('#timeline li').first().waitFor({ timeout: 10_000 });
    const first = await page.locator('#timeline li .tl-event').first().textContent();
    if (first !== 'started') throw new Error(`the timeline begins with "${first}"`);
    const facts = await page.textContent('.facts');
    for (const want of ['Vector', 'Packet size', 'Samples', 'Confidence']) {
      if (!facts.includes(want)) throw new Error(`the fingerprint lacks ${want}`);
    }
    // The traffic of the target's prefix, from the live seconds.
    await page.waitForFunction(() => Number(document.getElementById('detail-chart')?.dataset.points) > 0, null, { timeout: 10_000 });
    await shot('05-detail-active', true);
  });

  await step('the attack ends and the open detail follows it live', async () => {
    await page.locator('.detail-head .state-ended').waitFor({ timeout: opt.endTimeout * 1000 });
    const events = await page.locator('#timeline .tl-event').allTextContents();
    if (events[events.length - 1] !== 'ended') throw new Error(`timeline: ${events.join(', ')}`);
    await shot('06-detail-ended', true);
  });

  await step('the ended attack is in the history', async () => {
    await page.goto(`${opt.url}#/attacks`);
    await page.locator('#attack-history tbody tr').first().waitFor({ timeout: 10_000 });
    await shot('07-attacks');
  });

  if (opt.scan) {
    await step('a scan shows in the scans list', async () => {
      await page.goto(`${opt.url}#/scans`);
      await page.locator('#view table tbody tr').first().waitFor({ timeout: opt.attackTimeout * 1000 });
      await shot('08-scans');
    });
  }

  if (opt.intrusion) {
    await step('a brute force shows in the intrusions list and opens', async () => {
      await page.goto(`${opt.url}#/intrusions`);
      const row = page.locator('#intrusions tbody tr', { hasText: 'brute force' }).first();
      await row.waitFor({ timeout: opt.attackTimeout * 1000 });
      await shot('08b-intrusions');
      await row.click();
      await page.locator('#detail h1', { hasText: 'from 198.51.100.23' }).waitFor({ timeout: 10_000 });
      await page.locator('#timeline li').first().waitFor({ timeout: 10_000 });
      await shot('08c-intrusion');
    });
  }

  await step('exporters show health and counters', async () => {
    await page.goto(`${opt.url}#/exporters`);
    const row = page.locator('#exporters-table tbody tr').first();
    await row.waitFor({ timeout: 10_000 });
    const text = await row.textContent();
    if (!/127\.0\.0\.1/.test(text)) throw new Error(`exporter row: ${text}`);
    await shot('09-exporters');
  });

  await step('traffic history draws from the store', async () => {
    await page.goto(`${opt.url}#/traffic`);
    await page.locator('#history-chart svg').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => Number(document.getElementById('history-chart').dataset.points) > 0, null, { timeout: 90_000 });
    await shot('10-traffic');
  });

  await step('the console says when the daemon is gone and follows it back', async () => {
    await page.goto(`${opt.url}#/overview`);
    await page.locator('#live-dot.on').waitFor({ timeout: 10_000 });
    console.log('STOP');
    await page.locator('#offline').waitFor({ state: 'visible', timeout: 30_000 });
    await page.locator('#daemon-status.down').waitFor({ timeout: 15_000 });
    await shot('13-daemon-down');
    console.log('START');
    await page.locator('#live-dot.on').waitFor({ timeout: 60_000 });
    await page.locator('#offline').waitFor({ state: 'hidden', timeout: 5_000 });
    // What the store kept is there after the restart.
    await page.goto(`${opt.url}#/attacks`);
    await page.locator('#attack-history tbody tr').first().waitFor({ timeout: 10_000 });
  });

  await step('dark colour scheme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${opt.url}#/overview`);
    await page.locator('#live-chart path.series-in').waitFor({ state: 'attached', timeout: 10_000 });
    await page.waitForTimeout(500);
    await shot('11-overview-dark');
    await page.goto(`${opt.url}#/attacks`);
    await page.locator('#attack-history tbody tr').first().click();
    await page.locator('#timeline li').first().waitFor({ timeout: 10_000 });
    await shot('12-detail-dark', true);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step('a token the daemon stops accepting sends the analyst back to the login', async () => {
    await page.goto(`${opt.url}#/overview`);
    await page.locator('#app').waitFor({ state: 'visible', timeout: 10_000 });
    await page.evaluate(() => sessionStorage.setItem('rampart.token', 'rmp_revoked'));
    await page.goto(`${opt.url}#/exporters`);
    await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10_000 });
    const text = await page.textContent('#login-error');
    if (!/refused|unknown|revoked/i.test(text)) throw new Error(`login error reads: ${text}`);
    // Signed in again for the last step.
    await page.fill('#token-input', opt.token);
    await page.click('#login-button');
    await page.locator('#app').waitFor({ state: 'visible', timeout: 10_000 });
  });

  await step('log out returns to the login screen and forgets the token', async () => {
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 5_000 });
    const kept = await page.evaluate(() => sessionStorage.length);
    if (kept) throw new Error('the token is still in sessionStorage');
  });
  log('all steps passed');
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.message}`);
  try {
    await shot('failure', true);
  } catch {
    // The browser may be gone.
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
