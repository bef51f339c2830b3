import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { simDriver } from '../agent/drivers/sim.ts';
import { agentCaller } from '../agent/server.ts';
import { startAgent, startStack, type RunningAgent } from './stack.ts';
import { credentialsClient, formatCredentials } from '../cli/commands/credentials.ts';
import { auditFile } from '../service/audit-file.ts';
import { startController } from '../cli/commands/controller.ts';
import { isScoreError } from '../errors/errors.ts';
import type { AgentRegistered, Host } from '../api/contract.ts';
import type { Refusal } from '../api/identity.ts';
import { memoryCredentialStore, type CredentialStore } from '../api/credential-store.ts';
import type { AgentDecideResult, MigrationRecord } from '../api/contract.ts';

const BIN = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

/**
 * Per-hypervisor identity through the real servers: the controller's API and the agents' APIs
 * listen on loopback sockets, every call below is a real HTTP request.
 */
test('per-hypervisor credentials: an agent acts only as itself, the controller alone calls agents, revocation is immediate', async (t) => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const dir = mkdtempSync(join(tmpdir(), 'score-identity-'));
  const auditPath = join(dir, 'audit.jsonl');
  const logged: Refusal[] = [];
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null, auditPath, onRefusal: (r) => logged.push(r) });
  let pumping = true;
  const pump = (async () => {
    while (pumping) {
      await clock.advance(250);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const agents: RunningAgent[] = [];
  t.after(async () => {
    pumping = false;
    await pump;
    await Promise.all(agents.map((a) => a.stop()));
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const api = `${stack.apiUrl}/api/v1`;
  const call = async (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: await res.json() };
  };
  const code = (r: { json: unknown }): string | undefined => (r.json as { error?: { code: string } }).error?.code;

  sim.bootVms();
  await clock.sleep(4000);
  const hosts = stack.service.hosts();
  const vmOn = (hv: string): Host => {
    const h = hosts.find((x) => x.hypervisor === hv);
    assert.ok(h, `a VM on ${hv}`);
    return h;
  };

  // --- the operator issues one credential per hypervisor over the API (the CLI's client)
  const operator = credentialsClient(stack.apiUrl, stack.tokens.operator);
  const issued = new Map<string, { id: string; token: string }>();
  for (const hv of ['hv16', 'hv17', 'hv18']) {
    const r = await operator.issue(hv);
    assert.equal(r.credential.hypervisor, hv);
    assert.match(r.token, /^cred-[0-9a-f]{12}\./);
    issued.set(hv, { id: r.credential.id, token: r.token });
  }
  const tok = (hv: string): string => issued.get(hv)!.token;
  const listed = await operator.list();
  assert.deepEqual(listed.map((c) => [c.hypervisor, c.revokedAt]), [['hv16', null], ['hv17', null], ['hv18', null]]);
  assert.ok(!JSON.stringify(listed).includes(tok('hv16').split('.')[1]!), 'the list never shows a secret');
  assert.equal(formatCredentials(listed).length, 3);

  // --- hv16 registers as itself, but not as hv17
  const asOther = await call(tok('hv16'), 'POST', '/agents/register', { hypervisor: 'hv17', url: 'http://127.0.0.1:9' });
  assert.equal(asOther.status, 403);
  assert.equal(code(asOther), 'AGENT_IDENTITY_MISMATCH');
  assert.equal(stack.service.hypervisors().find((h) => h.name === 'hv17')?.agent, null, 'hv17 has no agent URL after the refusal');

  // --- hv16 cannot report a migration of a VM on hv18 (towards itself or anywhere)
  const stolen = vmOn('hv18');
  for (const target of ['hv16', 'hv19']) {
    const r = await call(tok('hv16'), 'POST', '/agents/migration-done', { vm: stolen.vm, hypervisor: target, migrationId: 'forged', port: 9 });
    assert.equal(r.status, 403);
    assert.equal(code(r), 'AGENT_VM_NOT_OURS');
  }
  assert.equal(stack.service.hosts().find((h) => h.vm === stolen.vm)?.hypervisor, 'hv18', 'the VM is still where it was');
  // its own VM it may report (no port: nothing moves, the answer is where the network sees it)
  const own = await call(tok('hv16'), 'POST', '/agents/migration-done', { vm: vmOn('hv16').vm, hypervisor: 'hv16' });
  assert.equal(own.status, 200);
  // but not send its own VM to another hypervisor's port: no running migration of it says so
  const hijack = await call(tok('hv16'), 'POST', '/agents/migration-done', { vm: vmOn('hv16').vm, hypervisor: 'hv17', port: 9 });
  assert.equal(hijack.status, 403);
  assert.equal(code(hijack), 'AGENT_VM_NOT_OURS');
  assert.equal(stack.service.hosts().find((h) => h.vm === vmOn('hv16').vm)?.hypervisor, 'hv16', 'its VM is still on hv16');
  // a name with a newline cannot forge a line of the controller's log or the audit file
  const forged = await call(tok('hv16'), 'POST', '/agents/register', { hypervisor: 'hv17\nWARN forged', url: 'http://127.0.0.1:9' });
  assert.equal(code(forged), 'AGENT_IDENTITY_MISMATCH');

  // --- hv16 reads what an agent needs, and no operator route
  for (const path of ['/hypervisors', '/paths/matrix', `/vms/${vmOn('hv16').vm}/traffic`]) assert.equal((await call(tok('hv16'), 'GET', path)).status, 200, path);
  const operatorRoutes: [string, string, unknown?][] = [
    ['GET', '/migrations'],
    ['GET', '/orchestration'],
    ['POST', '/orchestration/start', { policy: 'load-aware' }],
    ['PUT', '/weights/layers/1', { weight: 5 }],
    ['GET', '/credentials'],
    ['POST', '/credentials', { hypervisor: 'hv16' }],
    ['POST', `/credentials/${issued.get('hv17')!.id}/revoke`],
    ['GET', '/audit/refusals'],
  ];
  for (const [method, path, body] of operatorRoutes) {
    const r = await call(tok('hv16'), method, path, body);
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.equal(code(r), 'API_FORBIDDEN');
  }
  assert.equal(stack.service.orchestration().state, 'idle');
  assert.equal((await operator.list()).length, 3, 'no credential was issued by an agent');

  // --- refusals are in the audit log with the credential's name: API, controller log, audit file
  const hv16Name = `hv16/${issued.get('hv16')!.id}`;
  const refusals = (await call(stack.tokens.operator, 'GET', '/audit/refusals')).json as Refusal[];
  assert.equal(refusals.length, 5 + operatorRoutes.length);
  assert.ok(refusals.every((r) => r.credential === hv16Name), 'refusals.every((r) => r.credential === hv16Name)');
  assert.deepEqual(
    refusals.slice(0, 5).map((r) => [r.code, r.route]),
    [
      ['AGENT_IDENTITY_MISMATCH', '/api/v1/agents/register'],
      ['AGENT_VM_NOT_OURS', '/api/v1/agents/migration-done'],
      ['AGENT_VM_NOT_OURS', '/api/v1/agents/migration-done'],
      ['AGENT_VM_NOT_OURS', '/api/v1/agents/migration-done'],
      ['AGENT_IDENTITY_MISMATCH', '/api/v1/agents/register'],
    ],
  );
  assert.ok(refusals[4]!.message.includes(String.raw`"hv17\nWARN forged"`) && !refusals[4]!.message.includes('\n'), refusals[4]!.message);
  // the file and the log are written off the request path: wait for them
  await stack.refusals.flush();
  assert.equal(logged.length, refusals.length);
  const fileLines = readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Refusal);
  assert.deepEqual(fileLines.map((r) => [r.kind, r.credential, r.code]), refusals.map((r) => ['refusal', hv16Name, r.code]));
  assert.deepEqual(auditFile(auditPath).load(), [], 'refusal lines do not read back as migration records');

  // --- agents: each registers with its own credential and learns how to recognise the controller
  for (const hv of ['hv16', 'hv17', 'hv18']) agents.push(await startAgent({ hypervisor: hv, apiUrl: stack.apiUrl, token: tok(hv), driver: simDriver(sim) }));
  const agentUrl = (hv: string): string => agents.find((a) => a.hypervisor === hv)!.url;
  const reg = await call(tok('hv17'), 'POST', '/agents/register', { hypervisor: 'hv17', url: agentUrl('hv17') });
  assert.equal((reg.json as AgentRegistered).controllerCall?.sha256, stack.controllerCredential.verifierFor('hv17'));
  const decideOn = async (hv: string, token: string): Promise<number> =>
    (
      await fetch(`${agentUrl(hv)}/agent/v1/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ vm: vmOn(hv).vm, migrate: true, migrationId: 'forged' }),
      })
    ).status;
  // an agent's credential opens no agent, its own included; nor does the controller's token for hv16 (which hv16 sees) open hv17
  for (const hv of ['hv16', 'hv17', 'hv18']) {
    for (const from of ['hv16', 'hv17', 'hv18']) assert.equal(await decideOn(hv, tok(from)), 401, `${from}'s credential on ${hv}'s agent`);
  }
  assert.equal(await decideOn('hv17', stack.controllerCredential.tokenFor('hv16')), 401);
  assert.equal(await decideOn('hv17', stack.tokens.operator), 401);
  assert.equal(agents.reduce((n, a) => n + a.agent.driverCalls(), 0), 0, 'no refused call reached a driver');
  // the controller's credential works on every agent
  const controllerCall = agentCaller((hv) => stack.controllerCredential.tokenFor(hv));
  for (const hv of ['hv16', 'hv17', 'hv18']) {
    const r = await controllerCall(agentUrl(hv), { vm: vmOn(hv).vm, migrate: false, migrationId: `check-${hv}` }, hv);
    assert.equal(r.decision.from, hv);
    assert.equal(r.error, null);
  }

  // --- revocation: hv18's next request is refused and its open event stream ends; hv17's stays
  const open = async (token: string): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
    const res = await fetch(`${api}/events?types=cost`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value as Uint8Array), /^: connected/);
    return reader;
  };
  const hv18Stream = await open(tok('hv18'));
  const hv17Stream = await open(tok('hv17'));
  const agentOf = (hv: string): string | null | undefined => stack.service.hypervisors().find((h) => h.name === hv)?.agent;
  assert.equal(agentOf('hv18'), agentUrl('hv18'));
  const revoked = await operator.revoke(issued.get('hv18')!.id);
  assert.ok(revoked.revokedAt !== null, 'revoked.revokedAt !== null');
  // the controller stops calling hv18's agent: its URL is gone
  assert.equal(agentOf('hv18'), null, "a revoked hypervisor's agent is unregistered");
  // a second credential of hv17 revoked (a rotation) leaves hv17's agent, which still has one
  const spare = await operator.issue('hv17');
  await operator.revoke(spare.credential.id);
  assert.equal(agentOf('hv17'), agentUrl('hv17'));
  const ended = await Promise.race([
    (async () => {
      for (;;) if ((await hv18Stream.read()).done) return true;
    })(),
    new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref()),
  ]);
  assert.equal(ended, true, "the revoked credential's event stream closed");
  const after = await call(tok('hv18'), 'GET', '/hypervisors');
  assert.equal(after.status, 401);
  assert.equal(code(after), 'CREDENTIAL_REVOKED');
  const next = await hv17Stream.read();
  assert.equal(next.done, false, "another credential's stream goes on");
  await hv17Stream.cancel();
  assert.equal((await call(tok('hv17'), 'GET', '/hypervisors')).status, 200);
  const last = ((await call(stack.tokens.operator, 'GET', '/audit/refusals')).json as Refusal[]).at(-1)!;
  assert.deepEqual([last.credential, last.code], [`hv18/${issued.get('hv18')!.id}`, 'CREDENTIAL_REVOKED']);
  assert.deepEqual((await operator.list()).map((c) => c.revokedAt !== null), [false, false, true, true]);
  // a hypervisor the controller does not know: issued, with a warning; a known one has none
  const typo = await operator.issue('hv9999');
  assert.match(typo.warning ?? '', /does not know a hypervisor "hv9999"/);
  assert.equal(typo.credential.hypervisor, 'hv9999');
  assert.equal((await operator.issue('hv16')).warning, undefined);
  await assert.rejects(operator.revoke('cred-000000000000'), (e) => isScoreError(e, 'UNKNOWN_CREDENTIAL'));
  await assert.rejects(credentialsClient(stack.apiUrl, tok('hv16')).list(), (e) => isScoreError(e, 'API_FORBIDDEN'));

  // --- the same through the `score credentials` command
  const score = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, 'credentials', ...args, '--controller', stack.apiUrl], { env: { ...process.env, SCORE_OPERATOR_TOKEN: stack.tokens.operator }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const issuedByCli = await score('issue', 'hv19');
  assert.equal(issuedByCli.code, 0, issuedByCli.stderr);
  const cliToken = issuedByCli.stdout.trim();
  assert.match(cliToken, /^cred-[0-9a-f]{12}\.\S+$/);
  const cliId = cliToken.split('.')[0]!;
  assert.equal((await call(cliToken, 'POST', '/agents/register', { hypervisor: 'hv19', url: 'http://127.0.0.1:9' })).status, 200);
  const listedByCli = await score('list');
  assert.match(listedByCli.stdout, new RegExp(`^${cliId}  hv19 .* active$`, 'm'));
  assert.match(listedByCli.stdout, new RegExp(`^${issued.get('hv18')!.id}  hv18 .* revoked `, 'm'));
  assert.equal((await score('revoke', cliId)).stdout.trim(), `revoked ${cliId} (hv19)`);
  assert.equal(code(await call(cliToken, 'GET', '/hypervisors')), 'CREDENTIAL_REVOKED');
  const unknown = await score('revoke', 'cred-ffffffffffff');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /UNKNOWN_CREDENTIAL/);
});

test('the shared agent token works only behind the opt-in, and the controller warns at start', async () => {
  const tokens = { operator: 'operator-token-0123456789', agent: 'shared-agent-token-abcdef' };
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  await assert.rejects(
    startStack({ model, dataPlane: createSimDataPlane({ model, clock }).dataPlane, clock, webDir: null, tokens }),
    (e) => isScoreError(e, 'SHARED_AGENT_TOKEN_DISABLED'),
  );
  const warnings: string[] = [];
  const stack = await startStack({ model, dataPlane: createSimDataPlane({ model, clock }).dataPlane, clock, webDir: null, tokens, allowSharedAgentToken: true, onWarning: (m) => warnings.push(m) });
  try {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /shared agent token is enabled/);
    await clock.advance(3000);
    // opted in, it keeps its old powers: it may register any hypervisor
    const res = await fetch(`${stack.apiUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hypervisor: 'hv17', url: 'http://127.0.0.1:9' }),
    });
    assert.equal(res.status, 200);
  } finally {
    await stack.stop();
  }
  // the controller command prints the warning in its log
  const lines: string[] = [];
  const c = await startController({ port: 0, host: '127.0.0.1', pollMs: 1000, reportMs: 60_000, apiPort: 0, tokens, allowSharedAgentToken: true, out: (l) => lines.push(l) });
  await c.stop();
  assert.ok(lines.some((l) => /WARN the shared agent token is enabled/.test(l)), lines.join('\n'));
  // an agent's credential given as the shared token is refused, opt-in or not
  await assert.rejects(
    startStack({ model, dataPlane: createSimDataPlane({ model, clock }).dataPlane, clock, webDir: null, tokens: { ...tokens, agent: 'cred-0123456789ab.secret' }, allowSharedAgentToken: true }),
    (e) => isScoreError(e, 'SHARED_AGENT_TOKEN_MISUSED'),
  );
  // `score controller` reads its shared token from SCORE_SHARED_AGENT_TOKEN (SCORE_AGENT_TOKEN is an agent's own credential)
  const controllerWith = (env: Record<string, string>, ...flags: string[]): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      const { SCORE_AGENT_TOKEN: _a, SCORE_SHARED_AGENT_TOKEN: _s, ...rest } = process.env;
      execFile(process.execPath, [BIN, 'controller', '--port', '0', '--api-port', '0', ...flags], { env: { ...rest, ...env }, timeout: 60_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
  const [withoutFlag, credAsShared] = await Promise.all([
    controllerWith({ SCORE_SHARED_AGENT_TOKEN: 'shared' }),
    controllerWith({ SCORE_SHARED_AGENT_TOKEN: 'cred-0123456789ab.secret' }, '--allow-shared-agent-token'),
  ]);
  // without the flag it stops before it starts; with a credential as the shared token too
  assert.equal(withoutFlag.code, 2);
  assert.match(withoutFlag.stderr, /SHARED_AGENT_TOKEN_DISABLED/);
  assert.equal(credAsShared.code, 2);
  assert.match(credAsShared.stderr, /SHARED_AGENT_TOKEN_MISUSED/);
});

test('migration-done names the target: a source reports only its running migration, to its target; a target only arrivals; never a link port', async (t) => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  // The clock runs only while `pumping`: paused, the orchestrator waits for its confirmation with
  // the record `started` and its target known, for as long as the test needs.
  let pumping = true;
  let quit = false;
  const pump = (async () => {
    while (!quit) {
      if (pumping) await clock.advance(250);
      await new Promise((r) => setTimeout(r, pumping ? 0 : 5));
    }
  })();
  // Stand-in agents: every hypervisor's decide answers "moved to <target>" without moving anything.
  // The first answer is held back until released: meanwhile the record runs with no target yet.
  const targetFor = new Map<string, string>();
  let held: (() => void) | undefined;
  let holding = true;
  const fake = createServer((req, res) => {
    const from = (req.url ?? '').split('/')[1] ?? '';
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const vm = (JSON.parse(body) as { vm: string }).vm;
      const to = targetFor.get(from) ?? null;
      const answer: AgentDecideResult = { decision: { vm, from, to, costBefore: 2, costAfter: 1, migrationCost: 0, mode: 'first', candidates: [], reason: 'test' }, migrated: to !== null, error: null };
      const send = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      if (holding) {
        holding = false;
        held = send;
      } else {
        send();
      }
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const fakeUrl = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  t.after(async () => {
    pumping = true;
    // it stops once the current migration times out (the stand-in moved nothing)
    if (stack.service.orchestration().state !== 'idle') await stack.service.stopOrchestration().catch(() => undefined);
    quit = true;
    await pump;
    await stack.stop();
    await new Promise<void>((r) => fake.close(() => r()));
  });
  sim.bootVms();
  await clock.sleep(4000);
  const hvs = stack.service.hypervisors().map((h) => h.name);
  const [a, b, c] = [hvs[0]!, hvs[1]!, hvs[2]!];
  // whichever hypervisor the orchestrator asks first sends its VM to one of the others
  for (const hv of hvs) {
    targetFor.set(hv, hv === a ? b : a);
    stack.service.registerAgent(hv, `${fakeUrl}/${hv}`);
  }
  pumping = false;
  stack.service.startOrchestration({ policy: 'load-aware', maxRounds: 1 });
  const operator = credentialsClient(stack.apiUrl, stack.tokens.operator);
  const tok = new Map<string, string>();
  for (const hv of hvs) tok.set(hv, (await operator.issue(hv)).token);
  const done = async (hv: string, body: Record<string, unknown>): Promise<{ status: number; code: string | undefined }> => {
    const res = await fetch(`${stack.apiUrl}/api/v1/agents/migration-done`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.get(hv)!}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: json.error?.code };
  };
  // while the source's decide is still out, the record has no target: no other hypervisor may
  // claim the VM arrived at it, with the record's id or without
  let undecided: MigrationRecord | undefined;
  for (const end = Date.now() + 30_000; Date.now() < end && (undecided === undefined || held === undefined); ) {
    undecided = stack.service.migrations().find((r) => r.status === 'started' && r.to === null);
    if (undecided === undefined || held === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(undecided, 'a running migration whose target is not decided yet');
  const before = stack.service.hosts().find((h) => h.vm === undecided.vm)?.hypervisor;
  for (const other of hvs.filter((h) => h !== undecided.from)) {
    assert.deepEqual(await done(other, { vm: undecided.vm, hypervisor: other, port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' }, `${other} claiming ${undecided.vm}`);
    assert.deepEqual(await done(other, { vm: undecided.vm, hypervisor: other, migrationId: undecided.id, port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' }, `${other} claiming ${undecided.vm} with its record's id`);
  }
  assert.equal(stack.service.hosts().find((h) => h.vm === undecided.vm)?.hypervisor, before, 'no refused claim moved the VM');
  held?.();
  let record: MigrationRecord | undefined;
  // generous: the stand-in answers over real HTTP on a loaded machine
  for (const end = Date.now() + 30_000; Date.now() < end && record === undefined; ) {
    record = stack.service.migrations().find((r) => r.status === 'started' && r.to !== null);
    if (record === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(record, 'a running migration with its target decided');
  const { id, vm, from, to } = record as MigrationRecord & { to: string };
  const third = [a, b, c].find((h) => h !== from && h !== to)!;
  const where = (): string | undefined => stack.service.hosts().find((h) => h.vm === vm)?.hypervisor;
  assert.equal(where(), from);
  // the source: a forged migration id, or another target than the record's, is refused
  assert.deepEqual(await done(from, { vm, hypervisor: to, migrationId: 'm-forged', port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' });
  assert.deepEqual(await done(from, { vm, hypervisor: third, migrationId: id, port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' });
  // the target side may report the VM arriving at itself, not somewhere else
  assert.deepEqual(await done(to, { vm, hypervisor: third, migrationId: id, port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' });
  // an uninvolved hypervisor cannot use the record either
  assert.deepEqual(await done(third, { vm, hypervisor: third, migrationId: id, port: 5 }), { status: 403, code: 'AGENT_VM_NOT_OURS' });
  assert.equal(where(), from, 'no refused report moved the VM');
  // the port must be one a VM can be on, not the target switch's link into the fabric
  const linkPort = stack.service.topology().links.flatMap((l) => [l.a, l.b]).find((p) => p.switch === to)!;
  assert.ok(linkPort, `${to} has a link`);
  assert.deepEqual(await done(from, { vm, hypervisor: to, migrationId: id, port: linkPort.port }), { status: 403, code: 'NOT_A_HOST_PORT' });
  assert.equal(where(), from);
  // the honest reports pass: the source names its record and target, the target its arrival
  assert.equal((await done(from, { vm, hypervisor: to, migrationId: id })).status, 200);
  assert.equal((await done(to, { vm, hypervisor: to, migrationId: id })).status, 200);
});

test('a credential revoked between authentication and the opening of its event stream gets no stream', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const inner = memoryCredentialStore();
  // Revokes `victim` right after it passed authentication: the race, made deterministic.
  let victim: string | null = null;
  const credentials: CredentialStore = {
    ...inner,
    verify(token) {
      const v = inner.verify(token);
      if (v !== null && v.status === 'active' && v.credential.id === victim) {
        victim = null;
        void inner.revoke(v.credential.id);
      }
      return v;
    },
  };
  const stack = await startStack({ model, dataPlane: createSimDataPlane({ model, clock }).dataPlane, clock, webDir: null, credentials });
  try {
    const { credential, token } = await credentials.issue('hv16');
    victim = credential.id;
    const res = await fetch(`${stack.apiUrl}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CREDENTIAL_REVOKED');
    assert.equal(victim, null, 'the revocation happened after authentication');
  } finally {
    await stack.stop();
  }
});

/**
 * A running `score agent` process whose credential is revoked: its next check is refused with
 * CREDENTIAL_REVOKED, which no retry changes, so it stops with that code instead of retrying as
 * if the controller were unreachable.
 */
test('a running score agent whose credential is revoked stops with CREDENTIAL_REVOKED', async (t) => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const stack = await startStack({ model, dataPlane: createSimDataPlane({ model, clock }).dataPlane, clock, webDir: null });
  t.after(() => stack.stop());
  const operator = credentialsClient(stack.apiUrl, stack.tokens.operator);
  const issued = await operator.issue('hv16');
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
  let out = '';
  const exited = new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [BIN, 'agent', '--controller', stack.apiUrl, '--hypervisor', 'hv16', '--driver', 'libvirt', '--listen', `127.0.0.1:${port}`, '--check-ms', '100'], { env: { ...process.env, SCORE_AGENT_TOKEN: issued.token }, timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    t.after(() => child.kill('SIGKILL'));
  });
  const t0 = Date.now();
  while (!out.includes('registered with')) {
    assert.ok(Date.now() - t0 < 30_000, `the agent did not register: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await operator.revoke(issued.credential.id);
  const r = await exited;
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /CREDENTIAL_REVOKED/);
  assert.match(r.stderr, /score credentials issue hv16/);
  assert.doesNotMatch(r.stderr, /unreachable/);
});

test("a controller started with a scenario knows its hypervisors before their switches connect: no 'unknown hypervisor' warning for them", async () => {
  const c = await startController({ port: 0, host: '127.0.0.1', scenario: 'paper', pollMs: 1000, reportMs: 60_000, apiPort: 0, out: () => undefined });
  try {
    const operator = credentialsClient(c.stack.apiUrl, c.stack.tokens.operator);
    assert.equal((await operator.issue('hv16')).warning, undefined, 'hv16 is a hypervisor of the paper scenario');
    assert.match((await operator.issue('hv9999')).warning ?? '', /does not know a hypervisor "hv9999"/);
  } finally {
    await c.stop();
  }
});
