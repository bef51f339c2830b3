import { createHash, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AgentCostBody, AgentDecideBody, type AgentDecide, type AgentDecideResult } from '../api/contract.ts';
import { ScoreError, isScoreError, type ErrorCode } from '../errors/errors.ts';
import type { Agent, MigrationOutcome } from './agent.ts';

/** The agent's own small HTTP API, called by the controller's orchestrator (controller credential). */
const STATUS: Partial<Record<ErrorCode, number>> = { UNKNOWN_VM: 404, UNKNOWN_MIGRATION: 404, MIGRATION_IN_PROGRESS: 409, API_BAD_REQUEST: 400, API_UNAUTHORIZED: 401, AGENT_UNREACHABLE: 502, CONTROLLER_UNREACHABLE: 502, NO_PATH: 422 };

const digest = (x: string): Buffer => createHash('sha256').update(x, 'utf8').digest();

/**
 * How an agent recognises the controller's calls: it holds only the SHA-256 of the token the
 * controller sends to this hypervisor (src/api/identity.ts), learnt when it registers, so nothing
 * it holds opens another agent. Until then it accepts no one.
 */
export interface ControllerVerifier {
  /** hex SHA-256 of the controller's token for this hypervisor */
  set(sha256hex: string): void;
  accepts(token: string): boolean;
}

export function controllerVerifier(sha256hex?: string): ControllerVerifier {
  let expected: Buffer | null = null;
  const v: ControllerVerifier = {
    set(hex) {
      if (!/^[0-9a-f]{64}$/i.test(hex)) throw new ScoreError('API_BAD_REQUEST', 'the controller verifier must be 64 hex digits (SHA-256)');
      expected = Buffer.from(hex, 'hex');
    },
    // Digests on both sides: neither the token's bytes nor its length leak through timing.
    accepts: (token) => expected !== null && timingSafeEqual(digest(token), expected),
  };
  if (sha256hex !== undefined) v.set(sha256hex);
  return v;
}

/** The verifier of a known token (tests, and set-ups that configure both sides by hand). */
export function verifierOf(token: string): string {
  return digest(token).toString('hex');
}

export function buildAgentServer(agent: Agent, controller: ControllerVerifier): FastifyInstance {
  // the contract allows 100,000 blocked targets with a reason each; only the controller gets this far (onRequest checks its credential before the body is read)
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
  // TypeBox's own checker, as the controller's API uses: no AJV compile per agent at start-up.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('onRequest', (req, _reply, next) => {
    const h = req.headers.authorization ?? '';
    if (req.url !== '/agent/v1/health' && (!h.startsWith('Bearer ') || !controller.accepts(h.slice(7)))) {
      next(new ScoreError('API_UNAUTHORIZED', "only the controller's credential for this hypervisor is accepted"));
      return;
    }
    next();
  });
  app.setErrorHandler((err, _req, reply) => {
    if (isScoreError(err)) return reply.status(STATUS[err.code] ?? 500).send({ error: { code: err.code, message: err.message } });
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation !== undefined || (e.statusCode !== undefined && e.statusCode < 500)) {
      return reply.status(e.statusCode ?? 400).send({ error: { code: 'API_BAD_REQUEST', message: e.message ?? 'bad request' } });
    }
    // A bug's message may carry internals; the caller gets the code, the log gets the rest.
    console.error('agent: internal error', err);
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error in the agent' } });
  });
  app.get('/agent/v1/health', () => ({ hypervisor: agent.hypervisor, ok: true }));
  // Replies are the agent's own typed objects; plain JSON.stringify serialises them.
  app.post('/agent/v1/cost', { schema: { body: AgentCostBody } }, (req) => agent.cost(req.body.vm));
  app.post('/agent/v1/decide', { schema: { body: AgentDecideBody } }, (req) => agent.decide(req.body));
  // what became of a migration, by the orchestrator's id (a new cluster leader reconciles from it)
  app.get<{ Params: { id: string } }>('/agent/v1/migrations/:id', (req) => {
    const x = agent.outcome(req.params.id);
    if (x === undefined) throw new ScoreError('UNKNOWN_MIGRATION', `this agent was not asked to carry out migration ${req.params.id} (or has forgotten it)`, { id: req.params.id });
    return x;
  });
  return app;
}

/** How long the orchestrator waits on an agent's decide call (agentCaller). */
export interface AgentCallTimes {
  /**
   * ms without an answer after which a decide-only call gives up (AGENT_UNREACHABLE), and after
   * which a migrating call asks the agent how its migration stands (and again each time as long)
   * (default 30 s)
   */
  readonly checkMs?: number;
  /**
   * the longest a migrating call is waited for while its agent says the migration still runs, ms
   * (default AGENT_CALL_MAX_MS): past it the call fails MIGRATION_TIMEOUT
   */
  readonly maxMs?: number;
}

/**
 * A migrating call's bound: longer than any driver's own (QEMU 120 s plus 30 s for the
 * destination, libvirt 330 s, the cluster switch-over's rounds of up to 15 s each, 5 at most).
 */
export const AGENT_CALL_MAX_MS = 15 * 60_000;

/**
 * The orchestrator's side: POST to an agent's /agent/v1/decide. `token` is one token for every
 * agent, or the controller credential's token per hypervisor (ControllerCredential.tokenFor).
 * A migration takes as long as its memory takes to copy (seconds to minutes), so a migrating call
 * is not cut off by a fixed timeout (which would record "failed, the VM stayed" while the agent
 * goes on and moves it): every `checkMs` without an answer the agent is asked how the migration
 * stands (GET /agent/v1/migrations/:id), and the call waits on while it says deciding or running.
 * The POST goes through node:http, which has no time limit of its own (fetch's gives up on an
 * answer after 300 s). A call whose connection dropped is followed by the status alone.
 * An error after the agent said how the migration stands carries it in its details
 * (`agentState`, `to`: AgentReport), so the orchestrator can wait for a VM that moved.
 * @throws ScoreError AGENT_UNREACHABLE (no answer and no status three times in a row, the agent
 *   does not know the migration, its answer lost, or an error status), MIGRATION_TIMEOUT (still
 *   running after `maxMs`), API_BAD_REQUEST (the agent refused the request itself: 400, 413),
 *   MIGRATION_IN_PROGRESS, UNKNOWN_VM, CONTROLLER_UNREACHABLE (the agent answered that it could
 *   not reach the controller's API for the VM's traffic)
 */
export function agentCaller(
  token: string | ((hypervisor: string) => string),
  times: AgentCallTimes | number = {},
): (url: string, body: AgentDecide, hypervisor?: string) => Promise<AgentDecideResult> {
  const t = typeof times === 'number' ? { checkMs: times } : times;
  const checkMs = t.checkMs ?? 30_000;
  const maxMs = t.maxMs ?? AGENT_CALL_MAX_MS;
  return async (url, body, hypervisor) => {
    if (typeof token !== 'string' && hypervisor === undefined) throw new ScoreError('INTERNAL', `agent call to ${url} without the hypervisor its token is for`);
    const bearer = typeof token === 'string' ? token : token(hypervisor!);
    const abort = new AbortController();
    const call = postJson(`${url}/agent/v1/decide`, bearer, JSON.stringify(body), body.migrate ? abort.signal : AbortSignal.any([abort.signal, AbortSignal.timeout(checkMs)]));
    let res: JsonAnswer;
    try {
      res = body.migrate ? await whileRunning(call, abort, url, body.migrationId, bearer, checkMs, maxMs) : await call;
    } catch (e) {
      if (isScoreError(e)) throw e;
      throw new ScoreError('AGENT_UNREACHABLE', `agent ${url} did not answer: ${e instanceof Error ? e.message : String(e)}`, { url }, { cause: e });
    }
    const parsed = res.body as (AgentDecideResult & { error?: { code: string; message: string } }) | null;
    if (res.status < 200 || res.status >= 300 || parsed === null) {
      const code = parsed?.error?.code;
      const known = code === 'MIGRATION_IN_PROGRESS' || code === 'UNKNOWN_VM' || code === 'CONTROLLER_UNREACHABLE' ? code : res.status === 400 || res.status === 413 ? 'API_BAD_REQUEST' : 'AGENT_UNREACHABLE';
      throw new ScoreError(known, `agent ${url}: ${res.status} ${parsed?.error?.message ?? ''}`, { url, status: res.status });
    }
    return parsed;
  };
}

/** What the agent last said of a migration whose answer did not come (in a ScoreError's details). */
export interface AgentReport {
  readonly agentState: MigrationOutcome['state'];
  readonly to: string | null;
}

/** The agent's report a call's error carries, if it got one (agentCaller). */
export function agentReportOf(e: unknown): AgentReport | undefined {
  if (!isScoreError(e)) return undefined;
  const state = e.details['agentState'];
  const to = e.details['to'];
  return typeof state === 'string' ? { agentState: state as AgentReport['agentState'], to: typeof to === 'string' ? to : null } : undefined;
}

interface JsonAnswer {
  readonly status: number;
  /** the parsed body, null when it is not JSON */
  readonly body: unknown;
}

function postJson(url: string, bearer: string, body: string, signal: AbortSignal): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(u, { method: 'POST', signal, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          parsed = null;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** status checks in a row that may fail before the agent counts as gone (one is a blip) */
const STATUS_MISSES = 3;

/** The decide call's answer, waited for while the agent says its migration still runs (agentCaller). */
async function whileRunning(call: Promise<JsonAnswer>, abort: AbortController, url: string, id: string, bearer: string, checkMs: number, maxMs: number): Promise<JsonAnswer> {
  const started = Date.now();
  // set by the call's settling, read after each wait (a holder: TypeScript does not see closures assign)
  const got: { outcome?: { ok: true; v: JsonAnswer } | { ok: false; e: unknown } } = {};
  const settled = call.then(
    (v) => void (got.outcome = { ok: true, v }),
    (e: unknown) => void (got.outcome = { ok: false, e }),
  );
  // functions, not property reads: TypeScript would keep a narrowing across the awaits
  const answer = (): JsonAnswer | undefined => (got.outcome?.ok === true ? got.outcome.v : undefined);
  const failure = (): unknown => (got.outcome?.ok === false ? got.outcome.e : undefined);
  const waiting = (): boolean => got.outcome === undefined;
  const secs = (): number => Math.round((Date.now() - started) / 1000);
  // the agent's latest word on the migration: every error after it carries it (AgentReport)
  let report: AgentReport | undefined;
  const stop = (e: ScoreError): never => {
    const carried = report === undefined || e.details['agentState'] !== undefined ? e : new ScoreError(e.code, e.message, { ...e.details, ...report }, { cause: e.cause });
    abort.abort(carried);
    throw carried;
  };
  const wait = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    // a call that failed already (the connection dropped) is followed by its status, at a shorter period
    const tick = new Promise<void>((r) => (timer = setTimeout(r, waiting() ? ms : Math.min(ms, 2000))));
    try {
      await (waiting() ? Promise.race([settled, tick]) : tick);
    } finally {
      clearTimeout(timer);
    }
  };
  let misses = 0;
  let lastError: unknown;
  for (;;) {
    await wait(checkMs);
    if (answer() !== undefined) return answer()!;
    lastError = failure() ?? lastError;
    let x: MigrationOutcome | null;
    try {
      x = await agentMigrationOutcome(url, id, bearer, Math.min(checkMs, 5000));
      misses = 0;
    } catch (e) {
      if (answer() !== undefined) return answer()!;
      misses += 1;
      if (misses < STATUS_MISSES) continue;
      return stop(new ScoreError('AGENT_UNREACHABLE', `agent ${url} did not answer migration ${id} in ${secs()} s, nor say how it stands (${misses} status checks): ${e instanceof Error ? e.message : String(e)}${lastError instanceof Error ? `; the call itself: ${lastError.message}` : ''}`, { url, migrationId: id }, { cause: e }));
    }
    if (answer() !== undefined) return answer()!;
    if (x === null) return stop(new ScoreError('AGENT_UNREACHABLE', `agent ${url} does not know migration ${id} after ${secs()} s without an answer`, { url, migrationId: id }));
    report = { agentState: x.state, to: x.to };
    if (x.state === 'deciding' || x.state === 'running') {
      if (Date.now() - started > maxMs) return stop(new ScoreError('MIGRATION_TIMEOUT', `agent ${url} still reports migration ${id} ${x.state} after ${Math.round(maxMs / 1000)} s`, { url, migrationId: id, ...report }));
      continue;
    }
    // finished: its answer is on the way (the agent reports to the controller first); one more period for it
    if (waiting()) await wait(checkMs);
    if (answer() !== undefined) return answer()!;
    return stop(new ScoreError('AGENT_UNREACHABLE', `agent ${url} reports migration ${id} ${x.state}${x.to === null ? '' : ` (to ${x.to})`} but its answer did not come`, { url, migrationId: id, ...report }));
  }
}

/**
 * The orchestrator's side of GET /agent/v1/migrations/:id: what the agent did with a migration.
 * @returns the outcome, or null when the agent does not know the id (404)
 * @throws ScoreError AGENT_UNREACHABLE (no answer, refused, or another error)
 */
export async function agentMigrationOutcome(url: string, id: string, bearer: string, timeoutMs = 5000): Promise<MigrationOutcome | null> {
  let res: Response;
  try {
    res = await fetch(`${url}/agent/v1/migrations/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${bearer}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new ScoreError('AGENT_UNREACHABLE', `agent ${url} did not answer: ${e instanceof Error ? e.message : String(e)}`, { url }, { cause: e });
  }
  const body = (await res.json().catch(() => null)) as (MigrationOutcome & { error?: { code: string; message: string } | null }) | null;
  if (res.status === 404 && body?.error?.code === 'UNKNOWN_MIGRATION') return null;
  if (!res.ok || body === null) throw new ScoreError('AGENT_UNREACHABLE', `agent ${url}: ${res.status} ${body?.error?.message ?? ''}`, { url, status: res.status });
  return body;
}
