import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findTool, systemTestGate } from '../emulation/system-gate.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { startSimExperiment, type SimExperiment } from '../system/sim-experiment.ts';
import { writeRunOutputs } from '../cli/output.ts';
import { buildWeb } from './build.ts';

/**
 * The dashboard in a real headless Chromium (the Debian package, driven by playwright-core) over
 * the whole system on the simulated data plane, paced so migrations happen while the page
 * watches. Screenshots land in .test-artifacts/dashboard/.
 */
const gate = systemTestGate({ tools: ['chromium'] });
const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, '.test-artifacts', 'dashboard');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: findTool('chromium')!, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Polls from Node (the page's own globals are not in this project's types) until f holds. */
async function until(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A page logged in with the operator token and live, collecting the page's script errors. */
async function openLive(browser: Browser, stack: SimExperiment['stack']): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1400 } })).newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(stack.dashboardUrl);
  await page.fill('#token', stack.tokens.operator);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#app[data-state="live"]', { timeout: 20_000 });
  return { page, pageErrors };
}

// In-page code as strings: this project has Node's types, not the browser's.
const costPoints = (page: Page): Promise<number[]> => page.evaluate<number[]>("[...document.querySelectorAll('#cost-chart circle.pt')].map((e) => Number(e.getAttribute('data-y')))");

const state = (page: Page): Promise<string | null> => page.locator('#app').getAttribute('data-state');

function domHosts(page: Page): Promise<Record<string, string>> {
  return page.evaluate<Record<string, string>>("Object.fromEntries([...document.querySelectorAll('#topology [data-vm]')].map((e) => [e.getAttribute('data-vm'), e.getAttribute('data-host')]))");
}

test('dashboard in headless Chromium: refused without the operator token, live topology, a VM moves, the cost falls; a report shows its figures', { skip: gate.skip, timeout: 240_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  t.diagnostic(`screenshots in ${ARTIFACTS}`);
  await buildWeb();
  const { model, file } = loadScenarioFile('paper');
  const tmp = mkdtempSync(join(tmpdir(), 'score-dashboard-'));
  let exp: SimExperiment | null = null;
  let browser: Browser | null = null;
  try {
    // 700 real ms per orchestration step: slow enough for the page to see each move.
    exp = await startSimExperiment({ model, file, policy: 'load-aware', paceMs: 700 });
    const stack = exp.stack;
    browser = await launch();

    // --- refused: no token, a wrong token, an agent credential
    const anon = await (await browser.newContext()).newPage();
    await anon.goto(stack.dashboardUrl);
    assert.equal(await state(anon), 'need-token');
    assert.equal(await anon.locator('#topology [data-vm]').count(), 0, 'nothing is drawn without a token');
    await anon.fill('#token', 'not-the-token');
    await anon.click('#token-form button[type=submit]');
    await anon.waitForSelector('#app[data-state="refused"]');
    assert.match(await anon.locator('#refused-reason').innerText(), /401 API_UNAUTHORIZED/);
    assert.equal(await anon.locator('#topology [data-vm]').count(), 0);
    await anon.screenshot({ path: join(ARTIFACTS, '1-refused.png'), fullPage: true });
    await anon.fill('#token', await stack.issueAgentToken(model.scenario.hypervisors[0]!.id));
    await anon.click('#token-form button[type=submit]');
    await until('an agent credential is refused with 403', async () => /403/.test(await anon.locator('#refused-reason').innerText()));
    assert.equal(await state(anon), 'refused');
    assert.match(await anon.locator('#refused-reason').innerText(), /operator token/);

    // --- live with the operator token
    const { page, pageErrors } = await openLive(browser, stack);
    assert.equal(await page.evaluate("sessionStorage.getItem('score.operatorToken') !== null"), true, 'the token is kept for the tab');
    await until('every VM is drawn', async () => (await page.locator('#topology [data-vm]').count()) === model.vms.length);
    const switches = (await page.evaluate<string[]>("[...document.querySelectorAll('#topology [data-switch]')].map((e) => e.getAttribute('data-switch'))")).sort();
    const expectedSwitches = [...model.scenario.switches.map((s) => s.id), ...model.scenario.hypervisors.map((h) => h.id)].sort();
    assert.deepEqual(switches, expectedSwitches, 'every switch and hypervisor of the scenario is drawn');
    assert.equal(await page.locator('#topology [data-link]').count(), model.topology.links.length);
    const before = await domHosts(page);
    assert.deepEqual(before, Object.fromEntries(model.vms.map((vm) => [vm, model.placement.get(vm)!])), 'VMs start where the scenario puts them');
    await page.screenshot({ path: join(ARTIFACTS, '2-before.png'), fullPage: true });

    // --- orchestrate while the page watches
    const run = exp.run();
    let runDone = false;
    void run.then(
      () => (runDone = true),
      () => (runDone = true),
    );
    await until(
      'a VM changes hypervisor on the page',
      async () => {
        const now = await domHosts(page);
        return Object.keys(now).some((vm) => now[vm] !== before[vm]);
      },
      60_000,
    );
    const midway = await domHosts(page);
    const moved = Object.keys(midway).filter((vm) => midway[vm] !== before[vm]);
    assert.ok(moved.length >= 1 && !runDone, `a VM changed hypervisor on the page while the run was still going (moved ${moved.join(', ')})`);
    await page.screenshot({ path: join(ARTIFACTS, '3-migrating.png'), fullPage: true });
    const record = await run;
    assert.equal(record.migrations, 6);

    // the page ends where the network says every VM is
    const truth = Object.fromEntries(stack.service.hosts().map((h) => [h.vm, h.hypervisor]));
    await until('the page shows every VM where the network sees it', async () => JSON.stringify(await domHosts(page)) === JSON.stringify(Object.fromEntries(Object.keys(await domHosts(page)).map((vm) => [vm, truth[vm]]))));
    assert.ok(Object.keys(truth).some((vm) => truth[vm] !== before[vm]), 'Object.keys(truth).some((vm) => truth[vm] !== before[vm])');

    // the cost chart falls from the paper's 25000 to 0 (read back from its data points)
    await until('the cost chart reaches 0', async () => (await costPoints(page)).at(-1) === 0);
    const ys = await costPoints(page);
    assert.ok(Math.max(...ys) >= 24_999, `the chart shows the starting cost (max ${Math.max(...ys)})`);
    assert.equal(ys.at(-1), 0);
    assert.ok(ys.indexOf(Math.max(...ys)) < ys.lastIndexOf(0), 'high before low: the cost fell');
    assert.ok((await page.locator('#util-chart [data-series]').count()) >= 2, 'per-layer utilisation series are drawn');

    // the migration log: six moves, each with a reason and the candidates it weighed
    await until('the log lists six moves', async () => (await page.locator('#log-body tr[data-status="succeeded"]').count()) === 6);
    const firstMove = page.locator('#log-body tr[data-status="succeeded"]').last();
    assert.ok((await firstMove.locator('summary').innerText()).length > 0, 'a decision shows its reason');
    await firstMove.locator('summary').click();
    assert.ok((await firstMove.locator('.candidates tbody tr').count()) >= 1, 'and its candidates');
    await page.screenshot({ path: join(ARTIFACTS, '4-after.png'), fullPage: true });
    assert.deepEqual(pageErrors, [], 'no script errors on the page');

    // --- a score report opened in the same browser shows its figures
    await writeRunOutputs(tmp, [record], false);
    await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'score.js'), 'report', tmp, '--out', join(tmp, 'report.html')], { cwd: ROOT });
    assert.ok(existsSync(join(tmp, 'report.html')), 'existsSync(join(tmp, \'report.html\'))');
    const report = await (await browser.newContext({ viewport: { width: 1200, height: 1000 } })).newPage();
    await report.goto(pathToFileURL(join(tmp, 'report.html')).href);
    for (const id of ['#fig4', '#fig3']) {
      const fig = report.locator(`${id} svg`).first();
      const box = await fig.boundingBox();
      assert.ok(box !== null && box.width > 100 && box.height > 100, `${id} is rendered (${JSON.stringify(box)})`);
      assert.ok((await report.locator(`${id} svg path, ${id} svg line, ${id} svg rect`).count()) > 5, `${id} has marks`);
    }
    await report.screenshot({ path: join(ARTIFACTS, '5-report.png'), fullPage: true });
    console.log(`dashboard e2e: screenshots in ${ARTIFACTS}`);
  } finally {
    await browser?.close();
    await exp?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('dashboard in headless Chromium: a dry-run plan lists its moves; Approve carries one out, Skip drops another', { skip: gate.skip, timeout: 180_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildWeb();
  const { model, file } = loadScenarioFile('paper');
  let exp: SimExperiment | null = null;
  let browser: Browser | null = null;
  try {
    exp = await startSimExperiment({ model, file, policy: 'load-aware', paceMs: 300 });
    const stack = exp.stack;
    const review = async (id: string): Promise<string | null> => {
      const res = await fetch(`${stack.apiUrl}/api/v1/migrations`, { headers: { authorization: `Bearer ${stack.tokens.operator}` } });
      const records = (await res.json()) as { id: string; review?: { verdict: string } | null }[];
      return records.find((r) => r.id === id)?.review?.verdict ?? null;
    };
    browser = await launch();
    const { page, pageErrors } = await openLive(browser, stack);
    await until('every VM is drawn', async () => (await page.locator('#topology [data-vm]').count()) === model.vms.length);
    const before = await domHosts(page);

    await page.click('#plan');
    const items = page.locator('#plan-list li[data-id]');
    await until('the plan lists at least two moves', async () => (await items.count()) >= 2, 60_000);
    await until('the plan run is over (Approve enabled)', async () => !(await items.first().locator('button[data-action="approve"]').isDisabled()), 60_000);
    assert.deepEqual(await domHosts(page), before, 'a plan moves nothing');
    const [first, second] = [items.nth(0), items.nth(1)];
    const approvedId = (await first.getAttribute('data-id'))!;
    const approvedVm = (await first.getAttribute('data-vm'))!;
    const skippedId = (await second.getAttribute('data-id'))!;
    const skippedVm = (await second.getAttribute('data-vm'))!;
    await page.screenshot({ path: join(ARTIFACTS, '6-plan.png'), fullPage: true });

    await second.locator('button[data-action="skip"]').click();
    await until('the skipped move leaves the pending plan', async () => (await page.locator(`#plan-list li[data-id="${skippedId}"]`).count()) === 0);
    assert.equal(await review(skippedId), 'skipped');

    await page.locator(`#plan-list li[data-id="${approvedId}"] button[data-action="approve"]`).click();
    await until(`${approvedVm} moves on the page after Approve`, async () => (await domHosts(page))[approvedVm] !== before[approvedVm], 60_000);
    assert.equal(await review(approvedId), 'approved');
    const truth = Object.fromEntries(stack.service.hosts().map((h) => [h.vm, h.hypervisor]));
    assert.equal(truth[approvedVm], (await domHosts(page))[approvedVm], 'the page shows the approved VM where the network sees it');
    if (skippedVm !== approvedVm) assert.equal(truth[skippedVm], before[skippedVm], 'the skipped VM stays');
    await until('the approved move is in the log as succeeded', async () => (await page.locator(`#log-body tr[data-vm="${approvedVm}"][data-status="succeeded"]`).count()) === 1);
    await page.screenshot({ path: join(ARTIFACTS, '7-approved.png'), fullPage: true });
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await exp?.stop();
  }
});
