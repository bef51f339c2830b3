import { ScoreError } from '../errors/errors.ts';
import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Model } from '../scenario/model.ts';
import { scenarioDpids } from '../scenario/dpids.ts';
import type { ApiTokens } from '../api/contract.ts';
import { buildApiServer } from '../api/server.ts';
import { createService, type Service } from '../service/service.ts';
import { type AuditLog, auditFile } from '../service/audit-file.ts';
import { startRuntime, type Runtime } from '../runtime/controller-runtime.ts';
import type { Clock } from '../runtime/clock.ts';
import type { DataPlane } from '../runtime/dataplane.ts';
import { describeEvent, type Controller, type ControllerEvent } from '../controller/controller.ts';
import { createAgent, type Agent } from '../agent/agent.ts';
import { controllerApi } from '../agent/api-client.ts';
import { agentCaller, buildAgentServer, controllerVerifier } from '../agent/server.ts';
import { memoryCredentialStore, type CredentialStore } from '../api/credential-store.ts';
import { controllerCredential, refusalLog, type ControllerCredential, type Refusal, type RefusalLog } from '../api/identity.ts';
import { createAuthenticator, type Access } from '../api/auth.ts';
import { createStackMetrics, type StackMetrics } from '../metrics/metrics.ts';
import { DASHBOARD_PATH, DEFAULT_WEB_DIR } from '../web/static.ts';
import type { MigrationDriver } from '../agent/drivers/driver.ts';

/**
 * Composition root for the whole system on one data plane: the controller runtime, the
 * northbound service and its HTTP API on loopback, and hypervisor agents that talk to it over
 * real HTTP. `score demo` runs it on the simulated data plane, `score emulate` on Open vSwitch.
 */
export interface StackOptions {
  readonly model?: Model;
  readonly dataPlane: DataPlane;
  readonly clock: Clock;
  readonly tokens?: ApiTokens;
  readonly apiHost?: string;
  readonly apiPort?: number;
  readonly pollMs?: number;
  readonly probeMs?: number;
  /** the runtime's `probeShares`: LLDP probes of a period sent in this many parts (default 1) */
  readonly probeShares?: number;
  /** the runtime's `pollShares`: a statistics round asks its switches in this many parts (default 1) */
  readonly pollShares?: number;
  /** the controller's `maxHostsPerPort` (default 4,096) */
  readonly maxHostsPerPort?: number;
  readonly settleMs?: number;
  readonly confirmMs?: number;
  readonly rateTolerance?: number;
  /** `describe()`: the event's log line, built only when called (most host-added lines are not printed) */
  readonly onEvent?: (e: ControllerEvent, describe: () => string) => void;
  /** after each statistics round (after the service took its cost sample) */
  readonly onPoll?: (c: Controller) => void;
  readonly onError?: (message: string, err: unknown) => void;
  /** MAC -> VM name when there is no scenario model */
  readonly vmNames?: ReadonlyMap<string, string>;
  readonly onSettled?: (migrations: number) => void;
  readonly nonce?: Uint8Array;
  /** cluster mode: a switch handed over keeps its path rules (controller option keepPathRules; src/cluster/takeover.ts) */
  readonly keepPathRules?: boolean;
  /** persist the orchestrator's audit log here (JSON lines), and restore it at start */
  readonly auditPath?: string;
  /** or any other audit log (cluster mode: src/cluster/audit.ts); wins over auditPath */
  readonly audit?: AuditLog;
  /** who may scrape GET /metrics (default 'agent': the agent or operator token) */
  readonly metricsAccess?: Access;
  /** the dashboard's built files (default dist/web; null: no dashboard) */
  readonly webDir?: string | null;
  /** accept `tokens.agent` as one token for every hypervisor: test set-ups only (warns at start) */
  readonly allowSharedAgentToken?: boolean;
  /** per-hypervisor agent credentials (default: in memory) */
  readonly credentials?: CredentialStore;
  /** the key the controller derives its per-agent call tokens from (default: random) */
  readonly controllerKey?: Uint8Array;
  /** a refused request (403, revoked credential); it is also appended to the audit file */
  readonly onRefusal?: (r: Refusal) => void;
  /** start-up warnings (default: console.warn) */
  readonly onWarning?: (message: string) => void;
  /** extra routes and hooks, added before the API listens (cluster mode: src/cluster/api.ts) */
  readonly beforeListen?: (api: FastifyInstance, tokens: ApiTokens) => void;
  /** prefix of new migration record ids (cluster mode: the leader's generation) */
  readonly idPrefix?: () => string;
}

export interface Stack {
  readonly runtime: Runtime;
  /** the dashboard's address (served by the API server) */
  readonly dashboardUrl: string;
  readonly service: Service;
  readonly api: FastifyInstance;
  readonly apiUrl: string;
  readonly tokens: ApiTokens;
  /** this stack's Prometheus registry (also served at GET /metrics) */
  readonly metrics: StackMetrics;
  readonly credentials: CredentialStore;
  readonly refusals: RefusalLog;
  readonly controllerCredential: ControllerCredential;
  /** issues a credential bound to this hypervisor and answers its token */
  issueAgentToken(hypervisor: string): Promise<string>;
  stop(): Promise<void>;
}

/** A fresh operator token; with `sharedAgent`, also a shared agent token (test set-ups only). */
export function newTokens(o: { sharedAgent?: boolean } = {}): ApiTokens {
  return { operator: randomBytes(18).toString('base64url'), ...(o.sharedAgent === true ? { agent: randomBytes(18).toString('base64url') } : {}) };
}

export const SHARED_AGENT_TOKEN_WARNING =
  'the shared agent token is enabled (--allow-shared-agent-token): any holder can act as any hypervisor. For test set-ups only; give each agent its own credential (score credentials issue).';

export async function startStack(o: StackOptions): Promise<Stack> {
  const tokens = o.tokens ?? newTokens();
  // Bad or unauthorised tokens fail here, before anything is started.
  createAuthenticator({ tokens, ...(o.allowSharedAgentToken !== undefined ? { allowSharedAgentToken: o.allowSharedAgentToken } : {}) });
  const credentials = o.credentials ?? memoryCredentialStore({ now: () => Date.now() });
  const caller = controllerCredential(o.controllerKey);
  const refusals = refusalLog({
    // rate-limited per credential and written off the request path (refusalLog chains the writes)
    sink: async (r) => {
      o.onRefusal?.(r);
      if (o.auditPath !== undefined) await appendFile(o.auditPath, JSON.stringify(r) + '\n');
    },
  });
  if (tokens.agent !== undefined && o.allowSharedAgentToken === true) (o.onWarning ?? ((m: string) => console.warn(`WARN ${m}`)))(SHARED_AGENT_TOKEN_WARNING);
  const s = o.model?.scenario;
  const dpids = s ? scenarioDpids(s) : new Map<string, bigint>();
  let service: Service | null = null;
  const callAgent = agentCaller((hv) => caller.tokenFor(hv));
  const metrics = createStackMetrics({ clock: o.clock });
  const runtime = await startRuntime({
    dataPlane: metrics.instrument(o.dataPlane),
    clock: o.clock,
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
    ...(o.probeMs !== undefined ? { probeMs: o.probeMs } : {}),
    ...(o.probeShares !== undefined ? { probeShares: o.probeShares } : {}),
    ...(o.pollShares !== undefined ? { pollShares: o.pollShares } : {}),
    controller: {
      nonce: o.nonce ?? new Uint8Array(randomBytes(8)),
      ...(o.keepPathRules === true ? { keepPathRules: true } : {}),
      ...(o.maxHostsPerPort !== undefined ? { maxHostsPerPort: o.maxHostsPerPort } : {}),
      // the LLDP probes' HMAC key: fresh per run, never sent (src/controller/probe-auth.ts)
      secret: new Uint8Array(randomBytes(32)),
      names: new Map([...dpids].map(([n, d]) => [d, n])),
      hypervisors: new Set((s?.hypervisors ?? []).map((h) => dpids.get(h.id)!)),
      // the scenario's cables are the only links discovery may prove (no wormhole between two VMs)
      ...(s !== undefined ? { declaredLinks: s.links.map((l) => [dpids.get(l.a)!, dpids.get(l.b)!] as const) } : {}),
      // the scenario says what the links are sold as; a switch's port speed says what the NIC negotiated
      ...(o.model ? { capacities: new Map(o.model.topology.links.map((l) => [l.id, l.capacityBps])) } : {}),
      ...(o.model ? { weights: { layers: Object.fromEntries(Object.entries(s?.weights?.layers ?? {}).map(([k, v]) => [Number(k), v])), links: s?.weights?.links ?? {} } } : {}),
    },
    onEvent: (e, c) => {
      metrics.controllerEvent(e);
      service?.onControllerEvent(e);
      o.onEvent?.(e, () => describeEvent(c, e));
    },
    onPoll: (c) => {
      service?.sample();
      metrics.pollDone();
      o.onPoll?.(c);
    },
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  service = createService({
    runtime,
    clock: o.clock,
    ...(o.model ? { vmNames: new Map([...o.model.vmInfo].map(([vm, i]) => [i.mac, vm])), capacities: o.model.capacity } : o.vmNames ? { vmNames: o.vmNames } : {}),
    callAgent: (url, body, hypervisor) => metrics.timeDecisions((u, b) => callAgent(u, b, hypervisor))(url, body),
    ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
    ...(o.confirmMs !== undefined ? { confirmMs: o.confirmMs } : {}),
    ...(o.rateTolerance !== undefined ? { rateTolerance: o.rateTolerance } : {}),
    ...(o.onSettled !== undefined ? { onSettled: o.onSettled } : {}),
    ...(o.audit !== undefined ? { audit: o.audit } : o.auditPath !== undefined ? { audit: auditFile(o.auditPath) } : {}),
    ...(o.idPrefix !== undefined ? { idPrefix: o.idPrefix } : {}),
  });
  const unbind = metrics.bind({ runtime, service, dataPlane: o.dataPlane });
  // A revoked hypervisor's agent is no longer called (the orchestrator then gets NO_AGENT for
  // it), unless another active credential of that hypervisor remains, e.g. during a rotation.
  const svc = service;
  const unwatchRevocations = credentials.onRevoke((revoked) => {
    void credentials.list().then((all) => {
      if (!all.some((c) => c.hypervisor === revoked.hypervisor && c.revokedAt === null)) svc.unregisterAgent(revoked.hypervisor);
    }, (e: unknown) => o.onError?.(`revoking ${revoked.id}: the agent list was not updated`, e));
  });
  const api = buildApiServer({
    service,
    tokens,
    credentials,
    refusals,
    controllerCredential: caller,
    ...(s !== undefined ? { expectedHypervisors: new Set(s.hypervisors.map((h) => h.id)) } : {}),
    ...(o.allowSharedAgentToken !== undefined ? { allowSharedAgentToken: o.allowSharedAgentToken } : {}),
    metrics: { contentType: metrics.contentType, render: () => metrics.render(), apiRequest: (m, r, s) => metrics.apiRequest(m, r, s), ...(o.metricsAccess !== undefined ? { access: o.metricsAccess } : {}) }, ...(o.webDir === null ? {} : { web: { dir: o.webDir ?? DEFAULT_WEB_DIR } }) });
  o.beforeListen?.(api, tokens);
  try {
    await api.listen({ host: o.apiHost ?? '127.0.0.1', port: o.apiPort ?? 0 });
  } catch (e) {
    // nothing half-up: no OpenFlow listener without its API
    unbind();
    await api.close().catch(() => undefined);
    await runtime.stop();
    const why = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new ScoreError('LISTEN_FAILED', `cannot serve the API on ${o.apiHost ?? '127.0.0.1'}:${o.apiPort ?? 0}: ${why}`, { host: o.apiHost ?? '127.0.0.1', port: o.apiPort ?? 0, errno: why }, { cause: e });
  }
  const addr = api.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const apiUrl = `http://${o.apiHost === '0.0.0.0' || o.apiHost === undefined ? '127.0.0.1' : o.apiHost}:${port}`;
  return {
    runtime,
    service,
    api,
    apiUrl,
    dashboardUrl: `${apiUrl}${DASHBOARD_PATH}`,
    tokens,
    metrics,
    credentials,
    refusals,
    controllerCredential: caller,
    issueAgentToken: async (hypervisor) => (await credentials.issue(hypervisor)).token,
    async stop() {
      unbind();
      unwatchRevocations();
      await refusals.flush();
      await api.close();
      await runtime.stop();
    },
  };
}

export interface RunningAgent {
  readonly hypervisor: string;
  readonly agent: Agent;
  readonly url: string;
  /** registers again (idempotent): what a running agent does to check its controller is there */
  register(): Promise<unknown>;
  stop(): Promise<void>;
}

/** An agent with its own HTTP server on loopback, registered with the controller over the API. */
export async function startAgent(o: { hypervisor: string; apiUrl: string; token: string; driver: MigrationDriver; host?: string; port?: number }): Promise<RunningAgent> {
  const api = controllerApi(o.apiUrl, o.token);
  const agent = createAgent({ hypervisor: o.hypervisor, api, driver: o.driver });
  const verifier = controllerVerifier();
  const server = buildAgentServer(agent, verifier);
  try {
    await server.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  } catch (e) {
    await server.close().catch(() => undefined);
    const why = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new ScoreError('LISTEN_FAILED', `agent for ${o.hypervisor} cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 0}: ${why}`, { host: o.host ?? '127.0.0.1', port: o.port ?? 0, errno: why }, { cause: e });
  }
  const addr = server.server.address();
  const url = `http://${o.host ?? '127.0.0.1'}:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  const register = async (): Promise<void> => {
    const registered = await api.register(o.hypervisor, url);
    // Without it the agent accepts no caller: a controller that does not say how to recognise it.
    if (registered.controllerCall != null) verifier.set(registered.controllerCall.sha256);
  };
  try {
    await register();
  } catch (e) {
    // Nothing half-started: an agent that could not register does not keep its port open.
    await server.close();
    throw e;
  }
  return {
    hypervisor: o.hypervisor,
    agent,
    url,
    register,
    stop: () => {
      // a migration waiting for a controller leader would hold the close up to SWITCHOVER_WAIT_MS
      agent.stopWaiting();
      return server.close();
    },
  };
}
