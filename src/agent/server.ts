import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AgentCostBody, AgentDecideBody, type AgentDecide, type AgentDecideResult } from '../api/contract.ts';
import { ScoreError, isScoreError, type ErrorCode } from '../errors/errors.ts';
import type { Agent, MigrationOutcome } from './agent.ts';

/** The agent's own small HTTP API, called by the controller's orchestrator (controller credential). */
const STATUS: Partial<Record<ErrorCode, number>> = { UNKNOWN_VM: 404, UNKNOWN_MIGRATION: 404, MIGRATION_IN_PROGRESS: 409, API_BAD_REQUEST: 400, API_UNAUTHORIZED: 401, AGENT_UNREACHABLE: 502, NO_PATH: 422 };

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
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
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

/**
 * The orchestrator's side: POST to an agent's /agent/v1/decide. `token` is one token for every
 * agent, or the controller credential's token per hypervisor (ControllerCredential.tokenFor).
 */
export function agentCaller(
  token: string | ((hypervisor: string) => string),
  timeoutMs = 30_000,
): (url: string, body: AgentDecide, hypervisor?: string) => Promise<AgentDecideResult> {
  return async (url, body, hypervisor) => {
    if (typeof token !== 'string' && hypervisor === undefined) throw new ScoreError('INTERNAL', `agent call to ${url} without the hypervisor its token is for`);
    const bearer = typeof token === 'string' ? token : token(hypervisor!);
    let res: Response;
    try {
      res = await fetch(`${url}/agent/v1/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new ScoreError('AGENT_UNREACHABLE', `agent ${url} did not answer: ${e instanceof Error ? e.message : String(e)}`, { url }, { cause: e });
    }
    const parsed = (await res.json().catch(() => null)) as (AgentDecideResult & { error?: { code: string; message: string } }) | null;
    if (!res.ok || parsed === null) {
      const code = parsed?.error?.code;
      throw new ScoreError(code === 'MIGRATION_IN_PROGRESS' || code === 'UNKNOWN_VM' ? code : 'AGENT_UNREACHABLE', `agent ${url}: ${res.status} ${parsed?.error?.message ?? ''}`, { url, status: res.status });
    }
    return parsed;
  };
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
