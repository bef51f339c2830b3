import { randomBytes } from 'node:crypto';
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
import { agentCaller, buildAgentServer } from '../agent/server.ts';
import type { Access } from '../api/auth.ts';
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
  readonly settleMs?: number;
  readonly confirmMs?: number;
  readonly rateTolerance?: number;
  readonly onEvent?: (e: ControllerEvent, describe: string) => void;
  /** after each statistics round (after the service took its cost sample) */
  readonly onPoll?: (c: Controller) => void;
  readonly onError?: (message: string, err: unknown) => void;
  /** MAC -> VM name when there is no scenario model */
  readonly vmNames?: ReadonlyMap<string, string>;
  readonly onSettled?: (migrations: number) => void;
  readonly nonce?: Uint8Array;
  /** persist the orchestrator's audit log here (JSON lines), and restore it at start */
  readonly auditPath?: string;
  /** or any other audit log (cluster mode: src/cluster/audit.ts); wins over auditPath */
  readonly audit?: AuditLog;
  /** who may scrape GET /metrics (default 'agent': the agent or operator token) */
  readonly metricsAccess?: Access;
  /** the dashboard's built files (default dist/web; null: no dashboard) */
  readonly webDir?: string | null;
  /** extra routes and hooks, added before the API listens (cluster mode: src/cluster/api.ts) */
  readonly beforeListen?: (api: FastifyInstance, tokens: ApiTokens) => void;
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
  stop(): Promise<void>;
}

export function newTokens(): ApiTokens {
  return { operator: randomBytes(18).toString('base64url'), agent: randomBytes(18).toString('base64url') };
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const tokens = o.tokens ?? newTokens();
  const s = o.model?.scenario;
  const dpids = s ? scenarioDpids(s) : new Map<string, bigint>();
  let service: Service | null = null;
  const metrics = createStackMetrics({ clock: o.clock });
  const runtime = await startRuntime({
    dataPlane: metrics.instrument(o.dataPlane),
    clock: o.clock,
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
    ...(o.probeMs !== undefined ? { probeMs: o.probeMs } : {}),
    controller: {
      nonce: o.nonce ?? new Uint8Array(randomBytes(8)),
      names: new Map([...dpids].map(([n, d]) => [d, n])),
      hypervisors: new Set((s?.hypervisors ?? []).map((h) => dpids.get(h.id)!)),
      // the scenario says what the links are sold as; a switch's port speed says what the NIC negotiated
      ...(o.model ? { capacities: new Map(o.model.topology.links.map((l) => [l.id, l.capacityBps])) } : {}),
      ...(o.model ? { weights: { layers: Object.fromEntries(Object.entries(s?.weights?.layers ?? {}).map(([k, v]) => [Number(k), v])), links: s?.weights?.links ?? {} } } : {}),
    },
    onEvent: (e, c) => {
      metrics.controllerEvent(e);
      service?.onControllerEvent(e);
      o.onEvent?.(e, describeEvent(c, e));
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
    callAgent: metrics.timeDecisions(agentCaller(tokens.agent)),
    ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
    ...(o.confirmMs !== undefined ? { confirmMs: o.confirmMs } : {}),
    ...(o.rateTolerance !== undefined ? { rateTolerance: o.rateTolerance } : {}),
    ...(o.onSettled !== undefined ? { onSettled: o.onSettled } : {}),
    ...(o.audit !== undefined ? { audit: o.audit } : o.auditPath !== undefined ? { audit: auditFile(o.auditPath) } : {}),
  });
  const unbind = metrics.bind({ runtime, service, dataPlane: o.dataPlane });
  const api = buildApiServer({ service, tokens, metrics: { contentType: metrics.contentType, render: () => metrics.render(), apiRequest: (m, r, s) => metrics.apiRequest(m, r, s), ...(o.metricsAccess !== undefined ? { access: o.metricsAccess } : {}) }, ...(o.webDir === null ? {} : { web: { dir: o.webDir ?? DEFAULT_WEB_DIR } }) });
  o.beforeListen?.(api, tokens);
  await api.listen({ host: o.apiHost ?? '127.0.0.1', port: o.apiPort ?? 0 });
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
    async stop() {
      unbind();
      await api.close();
      await runtime.stop();
    },
  };
}

export interface RunningAgent {
  readonly hypervisor: string;
  readonly agent: Agent;
  readonly url: string;
  stop(): Promise<void>;
}

/** An agent with its own HTTP server on loopback, registered with the controller over the API. */
export async function startAgent(o: { hypervisor: string; apiUrl: string; token: string; driver: MigrationDriver; host?: string; port?: number }): Promise<RunningAgent> {
  const api = controllerApi(o.apiUrl, o.token);
  const agent = createAgent({ hypervisor: o.hypervisor, api, driver: o.driver });
  const server = buildAgentServer(agent, o.token);
  await server.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const addr = server.server.address();
  const url = `http://${o.host ?? '127.0.0.1'}:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  await api.register(o.hypervisor, url);
  return { hypervisor: o.hypervisor, agent, url, stop: () => server.close() };
}
