import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { buildApiServer, redactUrl, type ApiServer } from './server.ts';
import { memoryCredentialStore, type CredentialStore } from './credential-store.ts';
import type {
  ControllerService,
  Cost,
  CostMatrix,
  Host,
  Hypervisor,
  MigrationRecord,
  NorthEvent,
  Orchestration,
  OrchestrationStart,
  PathCost,
  PlanVerdict,
  Topology,
  VmTraffic,
  Weights,
} from './contract.ts';
import { ERROR_CODES, ScoreError, type ErrorCode } from '../errors/errors.ts';
import { STATUS_BY_CODE } from './http-errors.ts';
import { NORTH_EVENT_TYPES } from './sse.ts';

const TOKENS = { operator: 'operator-secret-0123456789', agent: 'agent-secret-abcdefghij' };
const OP = { authorization: `Bearer ${TOKENS.operator}` };
const AG = { authorization: `Bearer ${TOKENS.agent}` };

/** A ControllerService over a fixed three-hypervisor network, with the error behaviour the real one has. */
class FakeService implements ControllerService {
  readonly listeners = new Set<(e: NorthEvent) => void>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** thrown by the next call, to drive the error mapping */
  throwNext: Error | undefined = undefined;
  /** returned by topology() instead of the real value, to check response serialization */
  topologyOverride: unknown = undefined;
  state: Orchestration = { state: 'idle', policy: null, plan: false, round: 0, migrations: 0, converged: false, lastError: null };
  private readonly hvs = ['h1', 'h2', 'h3', 'island', 'full'];
  private readonly vms = new Map([
    ['vm1', 'h1'],
    ['vm2', 'h2'],
    ['vm3', 'h3'],
    ['busy', 'h1'],
  ]);
  private layerWeights: Record<string, number> = { '1': 1, '2': 3, '3': 9 };
  private linkWeights: Record<string, number> = { 'h1-t1': 1, 't1-a1': 3, 'a1-c1': 9 };

  private enter(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.throwNext !== undefined) {
      const e = this.throwNext;
      this.throwNext = undefined;
      throw e;
    }
  }
  private hv(name: string): void {
    if (!this.hvs.includes(name)) throw new ScoreError('UNKNOWN_HYPERVISOR', `no hypervisor "${name}"`, { hypervisor: name });
  }
  private host(vm: string): Host {
    const hypervisor = this.vms.get(vm);
    if (hypervisor === undefined) throw new ScoreError('UNKNOWN_VM', `no VM "${vm}"`, { vm });
    return { vm, mac: '02:00:00:00:00:01', ip: null, hypervisor, port: 1 };
  }

  topology(): Topology {
    this.enter('topology');
    if (this.topologyOverride !== undefined) return this.topologyOverride as Topology;
    return {
      switches: [
        { name: 'h1', dpid: '00:00:00:00:00:00:00:01', kind: 'hypervisor', layer: 0 },
        { name: 't1', dpid: '00:00:00:00:00:00:00:02', kind: 'switch', layer: 1 },
      ],
      links: [{ id: 'h1-t1', a: { switch: 'h1', port: 1 }, b: { switch: 't1', port: 2 }, layer: 1, weight: 1, capacityBps: 1e9, abBps: 10, baBps: 20, utilisation: 2e-8 }],
    };
  }
  hosts(): Host[] {
    this.enter('hosts');
    return [...this.vms.keys()].map((vm) => this.host(vm));
  }
  hypervisors(): Hypervisor[] {
    this.enter('hypervisors');
    return this.hvs.map((name) => ({ name, dpid: '00:00:00:00:00:00:00:01', capacity: 4, vms: [], agent: null }));
  }
  vmTraffic(vm: string): VmTraffic {
    this.enter('vmTraffic', vm);
    const h = this.host(vm);
    return {
      vm,
      mac: h.mac,
      hypervisor: h.hypervisor,
      cost: 42,
      peers: [{ vm: 'vm2', mac: '02:00:00:00:00:02', hypervisor: 'h2', outBytesPerSecond: 5, inBytesPerSecond: 2, lambda: 7, pathCost: 6, ageMs: 100 }],
    };
  }
  weights(): Weights {
    this.enter('weights');
    return { layers: { ...this.layerWeights }, links: { ...this.linkWeights } };
  }
  setLinkWeight(link: string, weight: number): Weights {
    this.enter('setLinkWeight', link, weight);
    if (!Object.hasOwn(this.linkWeights, link)) throw new ScoreError('UNKNOWN_LINK', `no link "${link}"`, { link });
    this.linkWeights = { ...this.linkWeights, [link]: weight };
    return this.weights();
  }
  setLayerWeight(layer: number, weight: number): Weights {
    this.enter('setLayerWeight', layer, weight);
    if (layer > 3) throw new ScoreError('UNKNOWN_LINK', `no link layer ${layer}`, { layer });
    this.layerWeights = { ...this.layerWeights, [String(layer)]: weight };
    return this.weights();
  }
  pathCost(from: string, to: string): PathCost {
    this.enter('pathCost', from, to);
    this.hv(from);
    this.hv(to);
    if (from === 'island' || to === 'island') throw new ScoreError('NO_PATH', `no path ${from} -> ${to}`, { from, to });
    return { from, to, cost: from === to ? 0 : 26, links: from === to ? [] : ['h1-t1', 't1-a1'] };
  }
  costMatrix(): CostMatrix {
    this.enter('costMatrix');
    return { hypervisors: ['h1', 'h2'], cost: [[0, 26], [26, 0]] };
  }
  cost(): Cost {
    this.enter('cost');
    return { at: 1000, cost: 123, layers: [{ layer: 1, meanUtilisation: 0.5, activeLinks: 2 }] };
  }
  costHistory(): Cost[] {
    this.enter('costHistory');
    return [this.cost()];
  }
  migrations(): MigrationRecord[] {
    this.enter('migrations');
    return [this.succeeded()];
  }
  private succeeded(): MigrationRecord {
    return {
        id: 'm1',
        vm: 'vm1',
        from: 'h1',
        to: 'h2',
        policy: 'la',
        round: 1,
        step: 1,
        status: 'succeeded',
        startedAt: 1,
        finishedAt: 2,
        totalCostBefore: 10,
        totalCostAfter: 5,
        decision: null,
        inputs: { rates: [{ src: 'vm1', dst: 'vm2', bytesPerSecond: 5 }], weights: { '1': 1 }, policyKey: 3 },
        error: null,
    };
  }
  orchestration(): Orchestration {
    this.enter('orchestration');
    return { ...this.state };
  }
  startOrchestration(body: OrchestrationStart): Orchestration {
    this.enter('startOrchestration', body);
    if (this.state.state !== 'idle') throw new ScoreError('ORCHESTRATION_RUNNING', 'orchestration is running');
    this.state = { ...this.state, state: 'running', policy: body.policy, plan: body.plan ?? false };
    return { ...this.state };
  }
  stopOrchestration(): Promise<Orchestration> {
    // Asynchronous like the real one: errors arrive as a rejection, not a synchronous throw.
    return Promise.resolve().then(() => {
      this.enter('stopOrchestration');
      if (this.state.state === 'idle') throw new ScoreError('ORCHESTRATION_IDLE', 'orchestration is not running');
      this.state = { ...this.state, state: 'idle' };
      return { ...this.state };
    });
  }
  reviewPlan(id: string, verdict: PlanVerdict): MigrationRecord {
    this.enter('reviewPlan', id, verdict);
    // p1 is always a pending planned move, p2 one already skipped; anything else is unknown.
    if (id !== 'p1' && id !== 'p2') throw new ScoreError('UNKNOWN_MIGRATION', `no migration record "${id}"`, { id });
    if (id === 'p2') throw new ScoreError('PLAN_NOT_PENDING', 'p2 was already skipped', { id });
    if (verdict === 'approve' && this.state.state !== 'idle') throw new ScoreError('ORCHESTRATION_RUNNING', 'running');
    return { ...this.succeeded(), id, status: 'planned', step: null, review: { verdict: verdict === 'approve' ? 'approved' : 'skipped', at: 5, migration: null } };
  }
  registerAgent(hypervisor: string, url: string): Hypervisor {
    this.enter('registerAgent', hypervisor, url);
    this.hv(hypervisor);
    return { name: hypervisor, dpid: '00:00:00:00:00:00:00:01', capacity: 4, vms: ['vm1'], agent: url };
  }
  migrationDone(vm: string, hypervisor: string, migrationId?: string, port?: number): Host {
    this.enter('migrationDone', vm, hypervisor, migrationId, port);
    this.hv(hypervisor);
    const h = this.host(vm);
    if (vm === 'busy') throw new ScoreError('MIGRATION_IN_PROGRESS', 'busy', { vm });
    if (hypervisor === 'full') throw new ScoreError('CAPACITY_EXCEEDED', 'full', { hypervisor });
    return { ...h, hypervisor, port: port ?? h.port };
  }
  subscribe(listener: (e: NorthEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(e: NorthEvent): void {
    for (const l of this.listeners) l(e);
  }
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
interface Req {
  readonly method: Method;
  readonly url: string;
  readonly payload?: string | object;
  readonly headers?: Record<string, string>;
}

interface Case {
  readonly name: string;
  readonly access: 'agent' | 'operator';
  readonly valid: Req;
  /** what the valid request answers, when the body is worth checking */
  readonly expect?: (body: unknown, svc: FakeService) => void;
  /** requests that must be refused with 400 API_BAD_REQUEST */
  readonly invalid: Req[];
  /** set up the fake so the valid request succeeds */
  readonly prepare?: (svc: FakeService) => void;
}

const P = '/api/v1';
const CASES: Case[] = [
  {
    name: 'GET /topology',
    access: 'agent',
    valid: { method: 'GET', url: `${P}/topology` },
    expect: (b) => assert.equal((b as Topology).links[0]?.id, 'h1-t1'),
    invalid: [],
  },
  { name: 'GET /hosts', access: 'agent', valid: { method: 'GET', url: `${P}/hosts` }, expect: (b) => assert.equal((b as Host[]).length, 4), invalid: [] },
  { name: 'GET /hypervisors', access: 'agent', valid: { method: 'GET', url: `${P}/hypervisors` }, expect: (b) => assert.equal((b as Hypervisor[])[0]?.name, 'h1'), invalid: [] },
  {
    name: 'GET /vms/:vm/traffic',
    access: 'agent',
    valid: { method: 'GET', url: `${P}/vms/vm1/traffic` },
    expect: (b) => assert.deepEqual([(b as VmTraffic).cost, (b as VmTraffic).peers.length], [42, 1]),
    invalid: [{ method: 'GET', url: `${P}/vms/${'x'.repeat(200)}/traffic` }],
  },
  {
    name: 'GET /vms/:vm/peers',
    access: 'agent',
    valid: { method: 'GET', url: `${P}/vms/vm1/peers` },
    expect: (b) => assert.equal((b as VmTraffic['peers'])[0]?.lambda, 7),
    invalid: [{ method: 'GET', url: `${P}/vms/${'x'.repeat(200)}/peers` }],
  },
  { name: 'GET /weights', access: 'agent', valid: { method: 'GET', url: `${P}/weights` }, expect: (b) => assert.equal((b as Weights).layers['2'], 3), invalid: [] },
  {
    name: 'PUT /weights/links/:link',
    access: 'operator',
    valid: { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: { weight: 5 } },
    expect: (b) => assert.equal((b as Weights).links['t1-a1'], 5),
    invalid: [
      { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: { weight: 0 } },
      { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: { weight: '5' } },
      { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: { weight: 5, extra: true } },
      { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: { weight: 2e9 } },
      { method: 'PUT', url: `${P}/weights/links/t1-a1`, payload: [5] },
    ],
  },
  {
    name: 'PUT /weights/layers/:layer',
    access: 'operator',
    valid: { method: 'PUT', url: `${P}/weights/layers/2`, payload: { weight: 4.5 } },
    expect: (b, svc) => {
      assert.equal((b as Weights).layers['2'], 4.5);
      // the path parameter reaches the service as a number, not the string "2"
      assert.deepEqual(svc.calls.at(-2)?.args, [2, 4.5]);
    },
    invalid: [
      { method: 'PUT', url: `${P}/weights/layers/0`, payload: { weight: 1 } },
      { method: 'PUT', url: `${P}/weights/layers/1.5`, payload: { weight: 1 } },
      { method: 'PUT', url: `${P}/weights/layers/abc`, payload: { weight: 1 } },
      { method: 'PUT', url: `${P}/weights/layers/2`, payload: { weight: -1 } },
      { method: 'PUT', url: `${P}/weights/layers/2`, payload: {} },
    ],
  },
  {
    name: 'GET /paths/cost',
    access: 'agent',
    valid: { method: 'GET', url: `${P}/paths/cost?from=h1&to=h2` },
    expect: (b) => assert.equal((b as PathCost).cost, 26),
    invalid: [
      { method: 'GET', url: `${P}/paths/cost?from=h1` },
      { method: 'GET', url: `${P}/paths/cost?from=h1&to=` },
      { method: 'GET', url: `${P}/paths/cost?from=h1&to=h2&x=1` },
      { method: 'GET', url: `${P}/paths/cost?from=h1&from=h3&to=h2` },
    ],
  },
  { name: 'GET /paths/matrix', access: 'agent', valid: { method: 'GET', url: `${P}/paths/matrix` }, expect: (b) => assert.equal((b as CostMatrix).cost[0]?.[1], 26), invalid: [] },
  { name: 'GET /cost', access: 'agent', valid: { method: 'GET', url: `${P}/cost` }, expect: (b) => assert.equal((b as Cost).cost, 123), invalid: [] },
  { name: 'GET /cost/history', access: 'agent', valid: { method: 'GET', url: `${P}/cost/history` }, expect: (b) => assert.equal((b as Cost[]).length, 1), invalid: [] },
  { name: 'GET /migrations', access: 'operator', valid: { method: 'GET', url: `${P}/migrations` }, expect: (b) => assert.equal((b as MigrationRecord[])[0]?.status, 'succeeded'), invalid: [] },
  { name: 'GET /orchestration', access: 'operator', valid: { method: 'GET', url: `${P}/orchestration` }, expect: (b) => assert.equal((b as Orchestration).state, 'idle'), invalid: [] },
  {
    name: 'POST /orchestration/start',
    access: 'operator',
    valid: { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', mode: 'best', plan: true, maxRounds: 3, migrationCost: 0, rails: { cooldownRounds: 2, maxPerRound: 4, maxPerHypervisor: 1 } } },
    expect: (b, svc) => {
      assert.deepEqual([(b as Orchestration).state, (b as Orchestration).policy], ['running', 'la']);
      assert.deepEqual(svc.calls.at(-1)?.args, [{ policy: 'la', mode: 'best', plan: true, maxRounds: 3, migrationCost: 0, rails: { cooldownRounds: 2, maxPerRound: 4, maxPerHypervisor: 1 } }]);
    },
    invalid: [
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'random' } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', maxRounds: 0 } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', maxRounds: 2.5 } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', migrationCost: -1 } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', plan: 'yes' } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', rails: { maxPerRound: 0 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', rails: { cooldownRounds: -1 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', rails: { stableRounds: 2 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', continuous: { everyMs: 50 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', continuous: { everyMs: 5000, stableRounds: 0 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', continuous: { everyMs: 5000, bandwidthBytesPerSec: 0 } } },
      { method: 'POST', url: `${P}/orchestration/start`, payload: { policy: 'la', continuous: {} } },
      { method: 'POST', url: `${P}/orchestration/start` },
    ],
  },
  {
    name: 'POST /orchestration/stop',
    access: 'operator',
    prepare: (svc) => (svc.state = { ...svc.state, state: 'running' }),
    valid: { method: 'POST', url: `${P}/orchestration/stop` },
    expect: (b) => assert.equal((b as Orchestration).state, 'idle'),
    invalid: [{ method: 'POST', url: `${P}/orchestration/stop`, headers: { 'content-type': 'application/json' }, payload: '{"x":' }],
  },
  ...(['approve', 'skip'] as const).map(
    (verdict): Case => ({
      name: `POST /migrations/:id/${verdict}`,
      access: 'operator',
      valid: { method: 'POST', url: `${P}/migrations/p1/${verdict}` },
      expect: (b, svc) => {
        assert.deepEqual([(b as MigrationRecord).id, (b as MigrationRecord).review?.verdict], ['p1', verdict === 'approve' ? 'approved' : 'skipped']);
        assert.deepEqual(svc.calls.at(-1)?.args, ['p1', verdict]);
      },
      invalid: [
        { method: 'POST', url: `${P}/migrations/${'m'.repeat(200)}/${verdict}` },
        { method: 'POST', url: `${P}/migrations/p1/${verdict}`, headers: { 'content-type': 'application/json' }, payload: '{"x":' },
      ],
    }),
  ),
  {
    name: 'POST /agents/register',
    access: 'agent',
    valid: { method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: 'h2', url: 'http://10.0.0.2:7070' } },
    expect: (b) => assert.equal((b as Hypervisor).agent, 'http://10.0.0.2:7070'),
    invalid: [
      { method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: 'h2', url: 'ftp://x' } },
      { method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: '', url: 'http://x' } },
      { method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: 'h2' } },
      { method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: 'h2', url: 'http://x', admin: true } },
    ],
  },
  {
    name: 'POST /agents/migration-done',
    access: 'agent',
    valid: { method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'vm1', hypervisor: 'h2', migrationId: 'm1', port: 7 } },
    expect: (b, svc) => {
      assert.deepEqual([(b as Host).hypervisor, (b as Host).port], ['h2', 7]);
      assert.deepEqual(svc.calls.at(-1)?.args, ['vm1', 'h2', 'm1', 7]);
    },
    invalid: [
      { method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'vm1', hypervisor: 'h2', port: 0 } },
      { method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'vm1', hypervisor: 'h2', port: 0xffffffff } },
      { method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'vm1' } },
      { method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 1, hypervisor: 'h2' } },
    ],
  },
];

function withHeaders(req: Req, headers: Record<string, string>): InjectOptions {
  return { ...req, headers: { ...(req.headers ?? {}), ...headers } };
}

function errorOf(body: string): { code: string; message: string; details?: Record<string, unknown> } {
  const parsed = JSON.parse(body) as { error?: { code: string; message: string; details?: Record<string, unknown> } };
  assert.ok(parsed.error, `expected an error body, got ${body}`);
  assert.equal(typeof parsed.error.code, 'string');
  assert.equal(typeof parsed.error.message, 'string');
  return parsed.error;
}

describe('northbound API over inject', () => {
  let svc: FakeService;
  let app: ApiServer;
  before(async () => {
    svc = new FakeService();
    app = buildApiServer({ service: svc, tokens: TOKENS, allowSharedAgentToken: true });
    await app.ready();
  });
  after(() => app.close());

  for (const c of CASES) {
    describe(c.name, () => {
      test('valid request with the operator token', async () => {
        svc.state = { ...svc.state, state: 'idle' };
        c.prepare?.(svc);
        const res = await app.inject(withHeaders(c.valid, OP));
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers['content-type']), /application\/json/);
        c.expect?.(res.json(), svc);
      });

      test(c.access === 'agent' ? 'the agent token is accepted' : 'the agent token is forbidden (403)', async () => {
        svc.state = { ...svc.state, state: 'idle' };
        c.prepare?.(svc);
        const before = svc.calls.length;
        const res = await app.inject(withHeaders(c.valid, AG));
        if (c.access === 'agent') {
          assert.equal(res.statusCode, 200, res.body);
        } else {
          assert.equal(res.statusCode, 403);
          assert.equal(errorOf(res.body).code, 'API_FORBIDDEN');
          assert.equal(svc.calls.length, before, 'a forbidden request must not reach the service');
        }
      });

      test('no token, a wrong token or another scheme is 401', async () => {
        const before = svc.calls.length;
        const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer nope' }, { authorization: `Basic ${TOKENS.operator}` }, { authorization: 'Bearer' }, { authorization: `Bearer ${TOKENS.operator}x` }];
        for (const headers of attempts) {
          const res = await app.inject(withHeaders(c.valid, headers));
          assert.equal(res.statusCode, 401, JSON.stringify(headers));
          assert.equal(errorOf(res.body).code, 'API_UNAUTHORIZED');
          assert.match(String(res.headers['www-authenticate']), /^Bearer/);
        }
        // ?token= is for /events only
        const q = c.valid.url;
        const res = await app.inject({ ...c.valid, url: `${q}${q.includes('?') ? '&' : '?'}token=${TOKENS.operator}` });
        assert.equal(res.statusCode, 401);
        assert.equal(svc.calls.length, before);
      });

      test('invalid requests are 400 API_BAD_REQUEST with details', async () => {
        const invalid = c.invalid.length > 0 ? c.invalid : [{ ...c.valid, method: 'DELETE' as const }];
        for (const req of invalid) {
          const res = await app.inject(withHeaders(req, OP));
          const e = errorOf(res.body);
          if (c.invalid.length === 0) {
            // routes without input: the only wrong request is a wrong method
            assert.equal(res.statusCode, 404, `${req.method} ${req.url}`);
            assert.equal(e.code, 'API_NOT_FOUND');
          } else {
            assert.equal(res.statusCode, 400, `${req.method} ${req.url} ${JSON.stringify(req.payload)}: ${res.body}`);
            assert.equal(e.code, 'API_BAD_REQUEST');
            assert.ok(e.details !== undefined, 'details name what failed');
          }
        }
      });
    });
  }

  test('validation details name the failing field', async () => {
    const res = await app.inject({ method: 'PUT', url: `${P}/weights/links/t1-a1`, headers: OP, payload: { weight: 'heavy' } });
    const e = errorOf(res.body);
    assert.equal(e.details?.part, 'body');
    const issues = e.details?.issues as { path: string }[];
    assert.ok(issues.some((i) => i.path === '/weight'), JSON.stringify(issues));
    const extra = await app.inject({ method: 'POST', url: `${P}/agents/register`, headers: AG, payload: { hypervisor: 'h1', url: 'http://a', role: 'operator' } });
    assert.match(JSON.stringify(errorOf(extra.body).details), /role/);
    const q = await app.inject({ method: 'GET', url: `${P}/paths/cost?from=h1`, headers: AG });
    assert.equal(errorOf(q.body).details?.part, 'querystring');
  });

  test('health and the OpenAPI document need no token', async () => {
    const h = await app.inject({ method: 'GET', url: `${P}/health` });
    assert.equal(h.statusCode, 200);
    assert.deepEqual(h.json(), { status: 'ok' });
    const d = await app.inject({ method: 'GET', url: `${P}/openapi.json` });
    assert.equal(d.statusCode, 200);
  });

  test('the OpenAPI document is JSON and lists every route with its method', async () => {
    const res = await app.inject({ method: 'GET', url: `${P}/openapi.json` });
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses?: Record<string, unknown> }>> };
    assert.match(doc.openapi, /^3\.1/);
    const routes: [string, string][] = [
      ...CASES.map((c): [string, string] => [c.valid.method, c.valid.url.split('?')[0] ?? '']),
      ['GET', `${P}/events`],
      ['GET', `${P}/health`],
      ['GET', `${P}/openapi.json`],
      // the credential routes, tested in identity.test.ts
      ['GET', `${P}/credentials`],
      ['POST', `${P}/credentials/{id}/revoke`],
      ['GET', `${P}/audit/refusals`],
    ];
    const expected = routes.map(([m, u]): [string, string] => [m.toLowerCase(), u.replace('/vms/vm1/', '/vms/{vm}/').replace('/links/t1-a1', '/links/{link}').replace('/layers/2', '/layers/{layer}').replace('/migrations/p1/', '/migrations/{id}/')]);
    for (const [method, path] of expected) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path} missing from ${Object.keys(doc.paths).join(' ')}`);
    }
    assert.equal(Object.keys(doc.paths).length, expected.length);
    assert.ok(doc.paths[`${P}/weights/links/{link}`]?.put?.security, 'protected routes declare their security');
    assert.equal(doc.paths[`${P}/health`]?.get?.security, undefined);
    assert.ok(doc.paths[`${P}/topology`]?.get?.responses?.['200'], 'doc.paths[`${P}/topology`]?.get?.responses?.[\'200\']');
  });

  test('ScoreErrors from the service map to stable statuses and keep their code', async () => {
    const expected: Partial<Record<ErrorCode, number>> = {
      UNKNOWN_VM: 404,
      UNKNOWN_HYPERVISOR: 404,
      UNKNOWN_LINK: 404,
      NO_AGENT: 404,
      UNKNOWN_MIGRATION: 404,
      PLAN_NOT_PENDING: 409,
      WEB_NOT_BUILT: 503,
      NO_PATH: 422,
      ORCHESTRATION_RUNNING: 409,
      ORCHESTRATION_IDLE: 409,
      MIGRATION_IN_PROGRESS: 409,
      TOPOLOGY_INVALID: 422,
      CAPACITY_EXCEEDED: 422,
      AGENT_UNREACHABLE: 502,
      MIGRATION_TIMEOUT: 504,
      OF_TIMEOUT: 500,
      INTERNAL: 500,
    };
    for (const [code, status] of Object.entries(expected) as [ErrorCode, number][]) {
      svc.throwNext = new ScoreError(code, `boom ${code}`, { why: code });
      const res = await app.inject({ method: 'GET', url: `${P}/topology`, headers: OP });
      assert.equal(res.statusCode, status, code);
      assert.deepEqual(res.json(), { error: { code, message: `boom ${code}`, details: { why: code } } });
    }
    for (const code of Object.keys(STATUS_BY_CODE)) assert.ok(code in ERROR_CODES, `${code} is a real error code`);
  });

  test('the fake service errors surface through real routes', async () => {
    const cases: [Req, number, string][] = [
      [{ method: 'POST', url: `${P}/migrations/nope/approve` }, 404, 'UNKNOWN_MIGRATION'],
      [{ method: 'POST', url: `${P}/migrations/p2/skip` }, 409, 'PLAN_NOT_PENDING'],
      [{ method: 'GET', url: `${P}/vms/nope/traffic` }, 404, 'UNKNOWN_VM'],
      [{ method: 'GET', url: `${P}/vms/nope/peers` }, 404, 'UNKNOWN_VM'],
      [{ method: 'PUT', url: `${P}/weights/links/nope`, payload: { weight: 1 } }, 404, 'UNKNOWN_LINK'],
      [{ method: 'PUT', url: `${P}/weights/layers/9`, payload: { weight: 1 } }, 404, 'UNKNOWN_LINK'],
      [{ method: 'GET', url: `${P}/paths/cost?from=h1&to=nope` }, 404, 'UNKNOWN_HYPERVISOR'],
      [{ method: 'GET', url: `${P}/paths/cost?from=h1&to=island` }, 422, 'NO_PATH'],
      [{ method: 'POST', url: `${P}/agents/register`, payload: { hypervisor: 'nope', url: 'http://x' } }, 404, 'UNKNOWN_HYPERVISOR'],
      [{ method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'busy', hypervisor: 'h2' } }, 409, 'MIGRATION_IN_PROGRESS'],
      [{ method: 'POST', url: `${P}/agents/migration-done`, payload: { vm: 'vm1', hypervisor: 'full' } }, 422, 'CAPACITY_EXCEEDED'],
      [{ method: 'POST', url: `${P}/orchestration/stop` }, 409, 'ORCHESTRATION_IDLE'],
    ];
    svc.state = { ...svc.state, state: 'idle' };
    for (const [req, status, code] of cases) {
      const res = await app.inject(withHeaders(req, OP));
      assert.equal(res.statusCode, status, `${req.method} ${req.url}: ${res.body}`);
      assert.equal(errorOf(res.body).code, code);
    }
    const start = { method: 'POST' as const, url: `${P}/orchestration/start`, headers: OP, payload: { policy: 'rr' } };
    assert.equal((await app.inject(start)).statusCode, 200);
    const again = await app.inject(start);
    assert.equal(again.statusCode, 409);
    assert.equal(errorOf(again.body).code, 'ORCHESTRATION_RUNNING');
    svc.state = { ...svc.state, state: 'idle' };
  });

  test('a non-ScoreError is 500 INTERNAL without leaking its message', async () => {
    svc.throwNext = new TypeError('secret internal detail');
    const res = await app.inject({ method: 'GET', url: `${P}/hosts`, headers: OP });
    assert.equal(res.statusCode, 500);
    const e = errorOf(res.body);
    assert.equal(e.code, 'INTERNAL');
    assert.doesNotMatch(res.body, /secret/);
  });

  test('responses are serialized through their schema: extra fields dropped, a malformed result is a 500 bug', async () => {
    const topo = svc.topology();
    svc.topologyOverride = { ...topo, password: 'hunter2', switches: topo.switches.map((s) => ({ ...s, secret: 1 })) };
    const res = await app.inject({ method: 'GET', url: `${P}/topology`, headers: OP });
    assert.equal(res.statusCode, 200);
    assert.doesNotMatch(res.body, /hunter2|secret/);
    svc.topologyOverride = { switches: [] };
    const bad = await app.inject({ method: 'GET', url: `${P}/topology`, headers: OP });
    assert.equal(bad.statusCode, 500);
    assert.equal(errorOf(bad.body).code, 'INTERNAL');
    svc.topologyOverride = undefined;
  });

  test('GET /orchestration carries continuous mode\'s last-period summary and a failed run\'s error code through its schema', async () => {
    const before = svc.state;
    const lastPeriod = { period: 7, asked: 6, moved: 0, pricedOut: 6, waitingStable: 0, heldBack: 0, errors: 0, largestSaving: { vm: 'vm3', to: 'hv23', saving: 12000, migrationCost: 186737096.6 } };
    svc.state = { ...before, state: 'running', policy: 'load-aware', converged: true, continuous: { everyMs: 5000, period: 7, migrations: 0, holdOff: null, lastPeriod } };
    try {
      const res = await app.inject({ method: 'GET', url: `${P}/orchestration`, headers: OP });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((JSON.parse(res.body) as Orchestration).continuous?.lastPeriod, lastPeriod);
      // and a failed run's error code
      svc.state = { ...before, lastError: 'no VM "vm99"', lastErrorCode: 'UNKNOWN_VM' };
      const failed = await app.inject({ method: 'GET', url: `${P}/orchestration`, headers: OP });
      assert.equal((JSON.parse(failed.body) as Orchestration).lastErrorCode, 'UNKNOWN_VM', failed.body);
    } finally {
      svc.state = before;
    }
  });

  test('malformed, poisoned, oversized and mistyped bodies are client errors', async () => {
    const url = `${P}/weights/links/t1-a1`;
    const json = { ...OP, 'content-type': 'application/json' };
    const cases: [Req, number][] = [
      [{ method: 'PUT', url, headers: json, payload: '{"weight": 1' }, 400],
      [{ method: 'PUT', url, headers: json, payload: '{"weight": 1, "__proto__": {"admin": true}}' }, 400],
      [{ method: 'PUT', url, headers: json, payload: '{"weight": 1, "constructor": {"prototype": {"admin": true}}}' }, 400],
      [{ method: 'PUT', url, headers: json, payload: '{"weight": 1e400}' }, 400],
      [{ method: 'PUT', url, headers: json, payload: JSON.stringify({ weight: 1, pad: 'x'.repeat(70 * 1024) }) }, 413],
      [{ method: 'PUT', url, headers: { ...OP, 'content-type': 'application/xml' }, payload: '<weight>1</weight>' }, 415],
      [{ method: 'PUT', url, headers: { ...OP, 'content-type': 'text/plain' }, payload: '{"weight": 1}' }, 400],
      [{ method: 'PUT', url, headers: json, payload: '' }, 400],
    ];
    for (const [req, status] of cases) {
      const res = await app.inject(req);
      assert.equal(res.statusCode, status, `${JSON.stringify(req.payload).slice(0, 60)}: ${res.body}`);
      assert.equal(errorOf(res.body).code, 'API_BAD_REQUEST');
    }
    assert.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was polluted');
  });

  test('an empty JSON body on a body-less POST is accepted', async () => {
    svc.state = { ...svc.state, state: 'running' };
    const res = await app.inject({ method: 'POST', url: `${P}/orchestration/stop`, headers: { ...OP, 'content-type': 'application/json' }, payload: '' });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('unknown routes and methods are 404 API_NOT_FOUND, undecodable URLs 400', async () => {
    for (const [method, url] of [
      ['GET', `${P}/nope`],
      ['GET', '/'],
      ['DELETE', `${P}/topology`],
      ['GET', `${P}/weights/layers/1`],
      ['HEAD', `${P}/events`],
    ] as const) {
      const res = await app.inject({ method, url, headers: OP });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      if (method !== 'HEAD') assert.equal(errorOf(res.body).code, 'API_NOT_FOUND');
    }
    for (const url of [`${P}/vms/%E0%A4%A/traffic`, `${P}/vms/${'v'.repeat(300)}/traffic`]) {
      const res = await app.inject({ method: 'GET', url, headers: OP });
      assert.equal(res.statusCode, 400, url);
      assert.equal(errorOf(res.body).details?.reason, 'bad-url');
    }
  });

  test('/events: bad type filter is 400, missing token 401, before any subscription', async () => {
    const before = svc.listeners.size;
    const bad = await app.inject({ method: 'GET', url: `${P}/events?types=cost,bogus`, headers: AG });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(errorOf(bad.body).details?.unknown, ['bogus']);
    assert.deepEqual(errorOf(bad.body).details?.known, [...NORTH_EVENT_TYPES]);
    assert.equal(NORTH_EVENT_TYPES.length, 10);
    const empty = await app.inject({ method: 'GET', url: `${P}/events?types=,`, headers: AG });
    assert.equal(empty.statusCode, 400);
    const anon = await app.inject({ method: 'GET', url: `${P}/events` });
    assert.equal(anon.statusCode, 401);
    const wrongQuery = await app.inject({ method: 'GET', url: `${P}/events?token=nope` });
    assert.equal(wrongQuery.statusCode, 401);
    assert.equal(svc.listeners.size, before);
  });
});

describe('construction', () => {
  test('empty or equal tokens are refused', () => {
    const svc = new FakeService();
    assert.throws(() => buildApiServer({ service: svc, tokens: { operator: '', agent: 'a' } }), (e) => e instanceof ScoreError && e.code === 'CLI_USAGE');
    assert.throws(() => buildApiServer({ service: svc, tokens: { operator: 'o', agent: '' } }), ScoreError);
    assert.throws(() => buildApiServer({ service: svc, tokens: { operator: 'same', agent: 'same' } }), ScoreError);
  });

  test('redactUrl hides the query token', () => {
    assert.equal(redactUrl('/api/v1/events?types=cost&token=abc&x=1'), '/api/v1/events?types=cost&token=[redacted]&x=1');
    assert.equal(redactUrl('/api/v1/events?token=abc'), '/api/v1/events?token=[redacted]');
    assert.equal(redactUrl('/api/v1/topology'), '/api/v1/topology');
  });
});

/** Reads an SSE response body frame by frame. */
class SseReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }
  /** the next frame (events and comments), or throws after `ms` */
  async next(ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return frame;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no SSE frame in time');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no SSE frame in time')), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error('stream ended');
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }
  /** the next frame that is an event, skipping comments */
  async nextEvent(ms = 2000): Promise<{ event: string; data: NorthEvent }> {
    for (;;) {
      const frame = await this.next(ms);
      if (frame.startsWith(':')) continue;
      const lines = frame.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '';
      return { event, data: JSON.parse(data) as NorthEvent };
    }
  }
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('server-sent events over a real socket', () => {
  let svc: FakeService;
  let app: ApiServer;
  let base: string;
  before(async () => {
    svc = new FakeService();
    app = buildApiServer({ service: svc, tokens: TOKENS, allowSharedAgentToken: true, heartbeatMs: 100 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${P}`;
  });
  after(() => app.close());

  const ev = (type: NorthEvent['type'], n: number): NorthEvent => ({ type, at: n, data: { n, text: 'line1\nline2' } });

  test('streams every event as event/data frames, then unsubscribes when the client goes away', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, { headers: AG, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(res.body, 'res.body');
    const r = new SseReader(res.body);
    assert.equal(await r.next(), ': connected');
    await until(() => svc.listeners.size === 1);
    svc.emit(ev('link-added', 1));
    svc.emit(ev('vm-moved', 2));
    const a = await r.nextEvent();
    assert.equal(a.event, 'link-added');
    assert.deepEqual(a.data, ev('link-added', 1));
    const b = await r.nextEvent();
    assert.equal(b.event, 'vm-moved');
    assert.equal(b.data.at, 2);
    ac.abort();
    await until(() => svc.listeners.size === 0);
  });

  test('?types= filters, and ?token= authenticates', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/events?types=cost,%20weight-changed&token=${encodeURIComponent(TOKENS.agent)}`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.ok(res.body, 'res.body');
    const r = new SseReader(res.body);
    await r.next();
    await until(() => svc.listeners.size === 1);
    svc.emit(ev('vm-moved', 1));
    svc.emit(ev('cost', 2));
    svc.emit(ev('link-removed', 3));
    svc.emit(ev('weight-changed', 4));
    const got = [await r.nextEvent(), await r.nextEvent()].map((e) => `${e.event}:${e.data.at}`);
    assert.deepEqual(got, ['cost:2', 'weight-changed:4']);
    ac.abort();
    await until(() => svc.listeners.size === 0);
  });

  test('heartbeat comments keep the stream alive', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, { headers: OP, signal: ac.signal });
    assert.ok(res.body, 'res.body');
    const r = new SseReader(res.body);
    assert.equal(await r.next(), ': connected');
    assert.equal(await r.next(1000), ': heartbeat');
    ac.abort();
    await until(() => svc.listeners.size === 0);
  });

  test('the stream refuses a wrong token over HTTP too', async () => {
    const res = await fetch(`${base}/events?token=wrong`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'API_UNAUTHORIZED');
  });

  test('close() ends open streams instead of waiting for the clients', async () => {
    const svc2 = new FakeService();
    const app2 = buildApiServer({ service: svc2, tokens: TOKENS, allowSharedAgentToken: true });
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app2.server.address() as AddressInfo).port}${P}/events`;
    const res = await fetch(url, { headers: AG });
    assert.ok(res.body, 'res.body');
    const r = new SseReader(res.body);
    await r.next();
    assert.equal(svc2.listeners.size, 1);
    const t0 = Date.now();
    await app2.close();
    assert.ok(Date.now() - t0 < 2000, 'Date.now() - t0 < 2000');
    assert.equal(svc2.listeners.size, 0);
    await assert.rejects(r.next(1000), /stream ended/);
  });
});

describe('a shared credential store that stops vouching for its copy (cluster mode)', () => {
  test('ends the streams opened with its agent credentials, and only those', async () => {
    const svc = new FakeService();
    const inner = memoryCredentialStore();
    let available = true;
    const credentials: CredentialStore = { ...inner, available: () => available };
    const app = buildApiServer({ service: svc, tokens: TOKENS, allowSharedAgentToken: true, credentials, heartbeatMs: 60_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${P}/events`;
      const { token } = await inner.issue('hv1');
      const agent = new SseReader((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).body!);
      const operator = new SseReader((await fetch(url, { headers: OP })).body!);
      await agent.next();
      await operator.next();
      await until(() => svc.listeners.size === 2);
      available = false;
      await assert.rejects(agent.next(2000), /stream ended/);
      await until(() => svc.listeners.size === 1);
      svc.emit({ type: 'cost', at: 1, data: {} });
      assert.equal((await operator.nextEvent()).event, 'cost', 'the operator stream stays open');
    } finally {
      await app.close();
    }
  });
});

const FUZZ_RUNS = 6000;

describe('fuzz: no input makes the server fail', () => {
  test('thousands of random requests with valid tokens never get a 500', async () => {
    const svc = new FakeService();
    const app = buildApiServer({ service: svc, tokens: TOKENS, allowSharedAgentToken: true });
    await app.ready();
    // Mostly each route with its own method, so requests get past routing into validation and
    // the handlers; the rest pair any method with any path.
    const routes: [string, string][] = [
      ['GET', 'topology'],
      ['GET', 'hosts'],
      ['GET', 'hypervisors'],
      ['GET', 'vms/:s/traffic'],
      ['GET', 'vms/:s/peers'],
      ['GET', 'weights'],
      ['PUT', 'weights/links/:s'],
      ['PUT', 'weights/layers/:s'],
      ['GET', 'paths/cost'],
      ['GET', 'paths/matrix'],
      ['GET', 'cost'],
      ['GET', 'cost/history'],
      ['GET', 'migrations'],
      ['POST', 'migrations/:s/approve'],
      ['POST', 'migrations/:s/skip'],
      ['GET', 'orchestration'],
      ['POST', 'orchestration/start'],
      ['POST', 'orchestration/stop'],
      ['POST', 'agents/register'],
      ['POST', 'agents/migration-done'],
      ['GET', 'events'],
      ['GET', 'health'],
      ['GET', 'openapi.json'],
      ['GET', ':s'],
      ['POST', ':s/:s'],
    ];
    const anyMethod = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
    const route = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...routes) },
      { weight: 1, arbitrary: fc.tuple(anyMethod, fc.constantFrom(...routes.map(([, t]) => t))) },
    );
    const nasty = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '..', '%00', '%E0%A4%A', '%', '1e400', '-1', '0', '1', '2', 'NaN', 'Infinity', '9'.repeat(400), 'h1', 'vm1', 'island', 't1-a1', 'la', 'cost,vm-moved', '');
    const segment = fc.oneof(nasty, fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.integer().map(String), fc.double().map(String), fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent));
    const key = fc.oneof(fc.constantFrom('from', 'to', 'types', 'token', '__proto__', 'constructor', 'weight', 'a[b]', 'x.y'), fc.string({ maxLength: 10 }));
    const query = fc.array(fc.tuple(key, segment), { maxLength: 4 }).map((kv) => (kv.length === 0 ? '' : `?${kv.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&')}`));
    const protoKeys = fc.constantFrom('__proto__', 'constructor', 'prototype');
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0xffffffff, -0, 0.1, 1e-320),
      fc.string({ maxLength: 30 }),
    );
    const validish = fc.record(
      {
        weight: value,
        policy: fc.oneof(fc.constantFrom('rr', 'la', 'round-robin', 'load-aware'), value),
        mode: fc.oneof(fc.constantFrom('first', 'best'), value),
        plan: fc.oneof(fc.boolean(), value),
        maxRounds: fc.oneof(fc.integer({ min: -5, max: 2000 }), value),
        migrationCost: value,
        hypervisor: fc.oneof(fc.constantFrom('h1', 'h2', 'island', 'full', 'nope'), value),
        url: fc.oneof(fc.constantFrom('http://a:1', 'https://b', 'ftp://c'), value),
        vm: fc.oneof(fc.constantFrom('vm1', 'busy', 'nope'), value),
        port: fc.oneof(fc.integer({ min: -1, max: 2 ** 33 }), value),
        migrationId: value,
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      validish.map((v) => JSON.stringify(v)),
      fc.tuple(validish, protoKeys, fc.jsonValue({ maxDepth: 2 })).map(([v, k, x]) => JSON.stringify(v).replace(/^\{/, `{${JSON.stringify(k)}:${JSON.stringify(x)}${Object.keys(v).length > 0 ? ',' : ''}`)),
      fc.string({ maxLength: 60 }),
      fc.constantFrom('{', '[1,', '{"weight":1e999}', '{"weight":-1e999}', '{"weight":1}{"weight":2}', 'null', '"x"', 'x'.repeat(70 * 1024), `{"weight":${'9'.repeat(500)}}`),
    );
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/JSON', undefined);
    const request = fc.record({
      route,
      segments: fc.array(segment, { minLength: 2, maxLength: 2 }),
      query,
      body,
      contentType,
      token: fc.constantFrom(OP, AG),
    });

    let count = 0;
    let opened = 0;
    const statuses = new Map<number, number>();
    const t0 = Date.now();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const [method, template] = r.route;
        const path = template.replace(/:s/g, () => r.segments[i++] ?? '');
        const url = `${P}/${path}${r.query}`;
        const headers: Record<string, string> = { ...r.token };
        if (r.contentType !== undefined && r.body !== undefined) headers['content-type'] = r.contentType;
        svc.state = { ...svc.state, state: count % 2 === 0 ? 'idle' : 'running' };
        // An event stream that opens never ends: ask for the headers only, then drop it.
        const res = await app.inject({
          method: method as InjectOptions['method'],
          url,
          headers,
          ...(r.body === undefined || method === 'GET' || method === 'HEAD' ? {} : { payload: r.body }),
          payloadAsStream: true,
        });
        count++;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          opened++;
          res.stream().destroy();
          return res.statusCode === 200;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of res.stream()) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        assert.ok(res.statusCode < 500, `${method} ${url} ${String(r.body).slice(0, 100)} -> ${res.statusCode} ${text}`);
        if (res.statusCode >= 400 && method !== 'HEAD') {
          const code = errorOf(text).code;
          assert.ok(code in ERROR_CODES, `unknown code ${code}`);
        }
        return true;
      }),
      { numRuns: FUZZ_RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240601) },
    );
    const ms = Date.now() - t0;
    await app.close();
    assert.equal(svc.listeners.size, 0, 'streams left open by the fuzz are closed with the server');
    assert.equal(count, FUZZ_RUNS);
    // The generator must reach the handlers, not only the 404 and 400 paths.
    assert.ok((statuses.get(200) ?? 0) > 100, JSON.stringify([...statuses]));
    assert.ok((statuses.get(400) ?? 0) > 100, '(statuses.get(400) ?? 0) > 100');
    assert.ok(opened > 0, 'some fuzzed requests opened the event stream');
    // A loose guard against pathological slowness only; the budget is ~20 s, machines vary.
    assert.ok(ms < 60_000, `fuzz took ${ms} ms`);
    console.log(`fuzz: ${count} requests in ${ms} ms, ${opened} event streams, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});
