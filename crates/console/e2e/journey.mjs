// The console's end-to-end journey in headless Chromium against a real `strata up`:
// sign in, the fleet and its chips, a CLI job appearing and finishing with its logs, a pending
// job's reason and a cancel, models and deployments, a streamed chat, keys created and revoked,
// usage after a few requests with a CSV export, what a tenant sees, and a phone-sized fleet.
//
// Run by crates/strata/tests/it/console.rs, which starts the server and sets:
//   STRATA_URL          http://127.0.0.1:PORT
//   STRATA_ADMIN_TOKEN  the admin token
//   STRATA_BIN          the strata binary (for the CLI steps)
//   STRATA_DATA_DIR     the data directory of that `strata up`
//   STRATA_SCREENSHOTS  where to save a PNG of each page
//   STRATA_HAS_MODEL    "1" when smollm2 is served (else the chat and usage-by-key steps skip)

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run this through \`cargo test -p strata --test it console\``);
  return v;
};
const URL = env('STRATA_URL');
const ADMIN = env('STRATA_ADMIN_TOKEN');
const BIN = env('STRATA_BIN');
const DATA = env('STRATA_DATA_DIR');
const SHOTS = env('STRATA_SCREENSHOTS');
const HAS_MODEL = process.env.STRATA_HAS_MODEL === '1';
const CHROMIUM = process.env.STRATA_CHROMIUM || '/usr/bin/chromium';

const T = 60_000; // generous: the test machines have two shared cores
mkdirSync(SHOTS, { recursive: true });

function cli(...args) {
  const cliEnv = { ...process.env, STRATA_DATA_DIR: DATA };
  delete cliEnv.STRATA_SERVER;
  delete cliEnv.STRATA_TOKEN;
  return execFileSync(BIN, args, { env: cliEnv, encoding: 'utf8' });
}
const submit = (...args) => JSON.parse(cli('job', 'submit', '-o', 'json', ...args)).id;

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const path = join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`  screenshot ${path}`);
}

async function step(name, fn) {
  const started = Date.now();
  console.log(`▶ ${name}`);
  await fn();
  console.log(`  ✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** Fails the run on any uncaught error in a page; refused requests are expected and allowed. */
function watch(page, label) {
  page.on('pageerror', (e) => {
    console.error(`[${label}] page error: ${e.stack || e}`);
    process.exitCode = 1;
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) console.error(`[${label}] console: ${m.text()}`);
  });
}

async function signIn(page, token) {
  await page.goto(`${URL}/`);
  await page.waitForURL(/\/console\/signin/);
  await page.fill('#token', token);
  await page.click('#signin button[type=submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/console/signin'), { timeout: T });
}

const userData = mkdtempSync(join(tmpdir(), 'strata-console-chromium-'));
const context = await chromium.launchPersistentContext(userData, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--no-first-run'],
  viewport: { width: 1280, height: 800 },
  acceptDownloads: true,
});
context.setDefaultTimeout(T);
const page = context.pages()[0] ?? await context.newPage();
watch(page, 'admin');

try {
  await step('sign in: a wrong token is refused in words, the admin token opens the fleet', async () => {
    await page.goto(`${URL}/`);
    await page.waitForURL(/\/console\/signin/);
    await page.fill('#token', 'strata-admin-wrong');
    await page.click('#signin button[type=submit]');
    const error = await page.locator('#signin-error .error').textContent();
    assert(/no live key|Not signed in/.test(error), `sign-in error says why: ${error}`);
    await screenshot(page, 'signin');
    await page.fill('#token', ADMIN);
    await page.click('#signin button[type=submit]');
    await page.waitForURL(`${URL}/console/`);
    assert((await page.textContent('#who')) === 'admin', 'signed in as admin');
  });

  await step('fleet: the node with its four emulated H100s, allocation, and the charts', async () => {
    const devices = page.locator('.node .device');
    await devices.nth(3).waitFor();
    assert((await devices.count()) === 4, 'four accelerators');
    const first = await devices.first().textContent();
    assert(first.includes('H100-80GB') && first.includes('NVIDIA') && first.includes('emulated') && first.includes('80 GiB'), `device card: ${first}`);
    assert((await page.locator('.node .badge').first().textContent()) === 'ready', 'node ready');
    await page.locator('#chart-gpus svg path').first().waitFor({ state: 'attached' });
    await page.locator('#chart-queue svg').waitFor();
    assert((await page.textContent('#card-gpus')).includes('/ 4'), 'summary counts 4 GPUs');
    assert(await page.locator('.node button', { hasText: 'Cordon' }).isVisible(), 'the admin may cordon');
    await screenshot(page, 'fleet');
  });

  let hello;
  await step('jobs: a job submitted from the CLI appears, finishes, and shows its logs', async () => {
    await page.goto(`${URL}/console/jobs`);
    await page.locator('#queues table, #queues .empty').first().waitFor();
    hello = submit('--name', 'hello', '--cpu', '0.25', '--', 'sh', '-c', 'echo hello; sleep 2');
    const row = page.locator(`#jobs-table tr[data-id="${hello}"]`);
    await row.waitFor();
    console.log(`  job ${hello} listed as ${await row.locator('.badge').textContent()}`);
    await page.click(`#jobs-table tr[data-id="${hello}"] a >> nth=0`);
    await page.waitForURL(`${URL}/console/jobs/${hello}`);
    await page.waitForFunction(() => document.querySelector('#logs')?.textContent.includes('hello'), null, { timeout: T });
    await page.locator('#job-state .badge', { hasText: 'succeeded' }).waitFor();
    await page.locator('#logs-state', { hasText: 'complete' }).waitFor();
    assert((await page.textContent('#events')).includes('succeeded'), 'events end in succeeded');
    assert(await page.locator('#cancel').isHidden(), 'no cancel button on a finished job');
    await screenshot(page, 'job');
  });

  await step('pending: a job waiting for taken GPUs says why; cancelling the blocker lets it run', async () => {
    const blocker = submit('--name', 'blocker', '--gpus', '4', '--cpu', '0.1', '--memory', '64', '--', 'sleep', '120');
    const waiter = submit('--name', 'waiter', '--gpus', '2', '--cpu', '0.1', '--memory', '64', '--', 'echo', 'my turn');
    await page.goto(`${URL}/console/jobs`);
    const reason = page.locator(`#jobs-table tr[data-id="${waiter}"] .reason`);
    await page.waitForFunction((id) => {
      const r = document.querySelector(`#jobs-table tr[data-id="${id}"] .reason`);
      return r && r.textContent !== 'waiting for the scheduler';
    }, waiter, { timeout: T });
    const why = await reason.textContent();
    console.log(`  job ${waiter} waits because: ${why}`);
    assert(/GPU|gpu/.test(why), `the reason talks about GPUs: ${why}`);
    const placed = await page.textContent(`#jobs-table tr[data-id="${blocker}"]`);
    assert(/GPU 0,1,2,3/.test(placed), `the blocker's placement is shown: ${placed}`);
    const queue = await page.textContent('#queue-table');
    assert(queue.includes('default'), 'the default tenant has a queue row');
    await screenshot(page, 'jobs-pending');
    await page.goto(`${URL}/console/jobs/${blocker}`);
    await page.locator('#cancel').waitFor({ state: 'visible' });
    await page.click('#cancel');
    await page.locator('#job-state .badge', { hasText: 'cancelled' }).waitFor();
    await page.goto(`${URL}/console/jobs/${waiter}`);
    await page.locator('#job-state .badge', { hasText: 'succeeded' }).waitFor();
    await page.waitForFunction(() => document.querySelector('#logs')?.textContent.includes('my turn'));
  });

  await step('models and deployments: the registry with estimates, deployments with scale controls', async () => {
    await page.goto(`${URL}/console/models`);
    await page.locator('#registry table, #registry .empty').first().waitFor();
    if (HAS_MODEL) {
      const reg = await page.textContent('#registry-table');
      assert(reg.includes('smollm2') && reg.includes('H100-80GB') && /per device/.test(reg), `registry row: ${reg}`);
      const card = page.locator('article[data-deployment="smollm2"]');
      await card.waitFor();
      await card.locator('.badge', { hasText: '1 / 1 ready' }).waitFor({ timeout: 120_000 });
      assert((await card.textContent()).includes('127.0.0.1:'), 'where the replica runs');
      // Scale controls: raise the autoscaler's ceiling without starting a replica.
      await card.locator('form.scale input[name=max_replicas]').fill('2');
      await card.locator('form.scale button[type=submit]').click();
      await card.locator('dd', { hasText: '1..2 replicas' }).waitFor();
    }
    await screenshot(page, 'models');
  });

  if (HAS_MODEL) {
    await step('playground: a streamed answer with time to first token and tokens/s', async () => {
      await page.goto(`${URL}/console/playground`);
      await page.locator('#model option[value="smollm2"]').waitFor({ state: 'attached' });
      await page.fill('#max_tokens', '24');
      await page.fill('#temperature', '0');
      await page.fill('#prompt', 'Say hello in five words.');
      await page.click('#send');
      const answer = page.locator('.msg.assistant .text').last();
      await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].at(-1)?.textContent.length > 0, null, { timeout: 120_000 });
      await page.locator('#send:not([disabled])').waitFor({ timeout: 120_000 });
      const stats = await page.locator('.msg.assistant .stats').last().textContent();
      console.log(`  answer: ${JSON.stringify(await answer.textContent())} — ${stats}`);
      assert(/TTFT \d/.test(stats) && /tokens\/s/.test(stats), `stats line: ${stats}`);
      await page.fill('#prompt', 'And in French?');
      await page.click('#send');
      await page.waitForFunction(() => document.querySelectorAll('.msg.assistant').length === 2 && !document.querySelector('#send').disabled, null, { timeout: 120_000 });
      await screenshot(page, 'playground');
    });
  } else {
    console.log('▷ playground skipped: smollm2 is not in the model cache (`strata model pull smollm2`)');
  }

  let keyId;
  let secret;
  await step('keys: create one (the secret shown once), use it, revoke it', async () => {
    await page.goto(`${URL}/console/keys`);
    await page.locator('#keys-table, #keys .empty').first().waitFor();
    await page.fill('#create-key input[name=name]', 'e2e');
    await page.fill('#create-key input[name=rpm]', '600');
    await page.click('#create-key button[type=submit]');
    secret = (await page.locator('#new-secret').textContent()).trim();
    assert(secret.startsWith('sk-strata-'), `a secret is shown: ${secret}`);
    const row = page.locator('#keys-table tbody tr', { hasText: 'e2e' });
    await row.waitFor();
    keyId = Number(await row.locator('td').first().textContent());
    assert((await row.textContent()).includes(secret.slice(-4)), 'the list shows the hint, not the secret');
    assert(!(await page.textContent('#keys-table')).includes(secret), 'the list never shows the secret');
    await screenshot(page, 'keys-created');
    if (HAS_MODEL) {
      for (let i = 0; i < 2; i += 1) {
        const res = await fetch(`${URL}/v1/chat/completions`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ model: 'smollm2', max_tokens: 8, messages: [{ role: 'user', content: `Count to ${i + 2}.` }] }),
        });
        assert(res.ok, `a request with the new key succeeds: ${res.status} ${await res.text()}`);
      }
    }
    await page.click('.secret button:has-text("Done")');
    assert((await page.locator('#new-secret').count()) === 0, 'the secret is gone once dismissed');
    await row.locator('button', { hasText: 'Revoke' }).click();
    await row.locator('button', { hasText: 'Confirm revoke' }).click();
    await row.waitFor({ state: 'detached' });
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await fetch(`${URL}/v1/models`, { headers: { Authorization: `Bearer ${secret}` } })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert(status === 401, `the revoked key is refused by the gateway (got ${status})`);
    await page.check('#show-revoked');
    await page.locator('#keys-table tbody tr', { hasText: 'e2e' }).locator('.badge', { hasText: 'revoked' }).waitFor();
  });

  await step('usage: totals, charts and a table after a few requests, exported as CSV', async () => {
    await page.goto(`${URL}/console/usage`);
    await page.locator('#total-requests').waitFor();
    if (HAS_MODEL) {
      // The ledger is written in batches; wait for the requests to land.
      await page.waitForFunction(() => Number(document.querySelector('#total-requests .value').textContent.replace(/,/g, '')) >= 4, null, { timeout: T });
      const table = await page.textContent('#usage-rows');
      assert(table.includes('smollm2'), `usage by model lists smollm2: ${table}`);
      await page.selectOption('#group-by', 'key');
      await page.waitForFunction((id) => document.querySelector('#usage-rows')?.textContent.includes(`${id} · e2e`), keyId, { timeout: T });
      const requests = await page.locator('#usage-rows tbody tr', { hasText: `${keyId} · e2e` }).locator('td').nth(1).textContent();
      assert(requests === '2', `the e2e key made 2 requests, the table says ${requests}`);
    }
    await page.locator('#chart-cost svg').waitFor();
    await screenshot(page, 'usage');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const csv = readFileSync(await download.path(), 'utf8');
    console.log(`  ${download.suggestedFilename()}: ${csv.split('\r\n')[0]}`);
    assert(/^(model|key),label,requests,errors,prompt_tokens,completion_tokens,cost_usd,mean_latency_ms\r\n/.test(csv), `CSV header: ${csv.slice(0, 120)}`);
    if (HAS_MODEL) assert(/\r\ntotal,,\d+,/.test(csv), `CSV has a total line: ${csv}`);
  });

  await step('a tenant sees only its own: no admin controls, other tenants\' jobs are not found', async () => {
    await page.goto(`${URL}/console/keys`);
    await page.locator('summary', { hasText: 'New tenant' }).click();
    await page.fill('#create-tenant input[name=name]', 'team-e2e');
    await page.fill('#create-tenant input[name=gpus]', '1');
    await page.click('#create-tenant button[type=submit]');
    const tenantKey = (await page.locator('#new-secret').textContent()).trim();
    const tenant = await context.newPage();
    watch(tenant, 'tenant');
    await signIn(tenant, tenantKey);
    assert((await tenant.textContent('#who')) === 'tenant team-e2e', 'signed in as the tenant');
    await tenant.locator('.node .device').first().waitFor();
    assert((await tenant.locator('.node button').count()) === 0, 'no cordon or drain for a tenant');
    await tenant.goto(`${URL}/console/jobs`);
    await tenant.locator('#jobs .empty, #jobs-table').first().waitFor();
    assert((await tenant.locator('#filter-tenant').count()) === 0, 'no tenant filter for a tenant');
    assert(!(await tenant.textContent('#jobs')).includes('hello'), 'the admin\'s jobs are not listed');
    const own = submit('--token', tenantKey, '--name', 'tenant-job', '--cpu', '0.1', '--memory', '64', '--', 'echo', 'mine');
    await tenant.selectOption('#filter-state', ''); // it may finish between two polls
    await tenant.locator(`#jobs-table tr[data-id="${own}"]`).waitFor();
    await screenshot(tenant, 'tenant-jobs');
    await tenant.goto(`${URL}/console/jobs/${hello}`);
    const err = await tenant.locator('#job-error .error').textContent();
    assert(/Not found/.test(err), `another tenant's job is not found: ${err}`);
    await tenant.goto(`${URL}/console/keys`);
    await tenant.locator('#keys-table').waitFor();
    assert((await tenant.locator('#keys-tenant').count()) === 0 && (await tenant.locator('#create-tenant').count()) === 0, 'no tenant picker or tenant creation');
    assert((await tenant.textContent('#keys-table')).includes('(this session)'), 'its own session key is marked');
    await tenant.click('#signout');
    await tenant.waitForURL(/\/console\/signin\?why=signedout/);
    await tenant.goto(`${URL}/console/keys`);
    await tenant.waitForURL(/\/console\/signin/);
    await tenant.close();
  });

  await step('phone: the fleet at 390×844 fits the width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${URL}/console/`);
    await page.locator('.node .device').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
    await screenshot(page, 'fleet-phone');
    await page.goto(`${URL}/console/jobs`);
    await page.locator('#jobs-table').waitFor();
    await screenshot(page, 'jobs-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
} catch (e) {
  console.error(`✗ ${e.stack || e}`);
  await screenshot(page, 'failure').catch(() => {});
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(userData, { recursive: true, force: true });
}
console.log(process.exitCode ? 'console journey FAILED' : `console journey passed; screenshots in ${SHOTS}`);
