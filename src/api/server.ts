import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type FastifyPluginCallbackTypebox, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import {
  AgentRegisterBody,
  AgentRegisteredDto,
  CostDto,
  CostMatrixDto,
  ErrorBody,
  HostDto,
  HypervisorDto,
  MigrationDoneBody,
  MigrationRecordDto,
  OrchestrationDto,
  OrchestrationStartBody,
  PathCostDto,
  PeerTrafficDto,
  TopologyDto,
  VmTrafficDto,
  WeightBody,
  WeightsDto,
  type ApiTokens,
  type ControllerService,
} from './contract.ts';
import { allows, bearerToken, createAuthenticator, type Access, type Principal } from './auth.ts';
import { memoryCredentialStore, type CredentialStore } from './credential-store.ts';
import { checkMigrationDone, checkRegister, refusalLog, type ControllerCredential, type Refusal, type RefusalLog } from './identity.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { errorPayload, toHttpFailure } from './http-errors.ts';
import { NORTH_EVENT_TYPES, openEventStream } from './sse.ts';
import { ScoreError } from '../errors/errors.ts';
import { DASHBOARD_PATH, readWebFile, sendWebFile } from '../web/static.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call the route; routes without it (the 404 handler) skip authentication */
    access?: Access;
    /** accept `?token=` besides the Authorization header (EventSource cannot set headers) */
    queryToken?: boolean;
  }
  interface FastifyRequest {
    /** who sent the request, once authenticated (null on public routes) */
    principal: Principal | null;
    /** the credential's name for audit lines, also for a revoked one */
    credentialName: string | null;
  }
}

export type ApiServer = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface ApiServerOptions {
  readonly service: ControllerService;
  readonly tokens: ApiTokens;
  readonly logger?: boolean;
  /** SSE heartbeat comment interval (default 15 s) */
  readonly heartbeatMs?: number;
  /** largest accepted request body in bytes (default 64 KiB) */
  readonly bodyLimit?: number;
  /** serve `GET /metrics` (Prometheus text format) and count every request */
  readonly metrics?: ApiMetrics;
  /** serve the dashboard's built files from this folder at /dashboard/ (and redirect / there) */
  readonly web?: { readonly dir: string };
  /** per-hypervisor agent credentials (default: a fresh in-memory store) */
  readonly credentials?: CredentialStore;
  /** accept `tokens.agent` as an agent that may act as any hypervisor: test set-ups only */
  readonly allowSharedAgentToken?: boolean;
  /** the controller's credential for calling agents; registering agents learn its verifier */
  readonly controllerCredential?: ControllerCredential;
  /** where refused requests (403, revoked credentials) go (default: kept in memory) */
  readonly refusals?: RefusalLog;
  /** ms since epoch for audit lines (default Date.now) */
  readonly now?: () => number;
  /** hypervisors the controller expects (its scenario's), known before their switches connect */
  readonly expectedHypervisors?: ReadonlySet<string>;
}

/** What the API needs from a metrics registry; kept free of prom-client so the API does not depend on it. */
export interface ApiMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  /** route is the pattern (`/api/v1/vms/:vm/traffic`), undefined when no route matched */
  apiRequest(method: string, route: string | undefined, statusCode: number): void;
  /** who may scrape (default 'agent': the agent or operator token, like the other read routes) */
  readonly access?: Access;
}

export const API_PREFIX = '/api/v1';
export const DEFAULT_BODY_LIMIT = 64 * 1024;
const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

// Path and query schemas owned by the HTTP layer (the contract holds bodies and responses).
const VmParams = Type.Object({ vm: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const MigrationParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const LinkParams = Type.Object({ link: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
// A digit pattern, not Type.Integer: TypeBox's conversion turns "1.5" and "true" into 1, which
// would silently reweight the wrong layer.
const LayerParams = Type.Object(
  { layer: Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: 'layer number, an integer >= 1 (1: hypervisor-ToR links)' }) },
  { additionalProperties: false },
);
const PathCostQuery = Type.Object(
  { from: Type.String({ minLength: 1, maxLength: 128, description: 'hypervisor name' }), to: Type.String({ minLength: 1, maxLength: 128, description: 'hypervisor name' }) },
  { additionalProperties: false },
);
const EventsQuery = Type.Object(
  {
    types: Type.Optional(Type.String({ maxLength: 512, description: `comma-separated event types to receive (default all): ${NORTH_EVENT_TYPES.join(', ')}` })),
    token: Type.Optional(Type.String({ maxLength: 512, description: 'the API token, for clients that cannot set headers (EventSource); prefer the Authorization header' })),
  },
  { additionalProperties: false },
);
const HealthDto = Type.Object({ status: Type.Literal('ok') });

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const BEARER = [{ bearer: [] }];

interface RouteDoc {
  readonly tag: string;
  readonly summary: string;
  readonly access: Access;
  readonly description?: string;
}

/** OpenAPI metadata for a route; the access note keeps the generated reference honest. */
function meta(doc: RouteDoc): { tags: string[]; summary: string; description: string; security?: typeof BEARER } {
  const who = doc.access === 'public' ? 'no token' : doc.access === 'operator' ? 'operator token' : 'agent or operator token';
  return {
    tags: [doc.tag],
    summary: doc.summary,
    description: `${doc.description ?? doc.summary}\n\nAuth: ${who}.`,
    ...(doc.access === 'public' ? {} : { security: BEARER }),
  };
}

/** Response schemas: the 200 body plus the error body for every failure. */
const ok = <T extends TSchema>(body: T): { 200: T; '4xx': typeof ErrorBody; '5xx': typeof ErrorBody } => ({ 200: body, ...errors });

/** Strips a `token=` query value so a logged URL never holds a credential. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * The northbound HTTP API (fastify): JSON over `/api/v1`, validated against the contract's TypeBox
 * schemas, bearer-token auth (the operator token, per-hypervisor agent credentials), and an SSE event stream.
 * The caller listens (or injects); `close()` also ends open event streams.
 */
export function buildApiServer(options: ApiServerOptions): ApiServer {
  const { service } = options;
  const credentials = options.credentials ?? memoryCredentialStore();
  const refusals = options.refusals ?? refusalLog();
  const now = options.now ?? Date.now;
  const authenticate = createAuthenticator({ tokens: options.tokens, credentials, ...(options.allowSharedAgentToken !== undefined ? { allowSharedAgentToken: options.allowSharedAgentToken } : {}) });
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  // open event streams, with the id of the credential that opened each (null: operator, shared)
  const streams = new Map<() => void, string | null>();
  // Revocation takes effect at once: the revoked credential's open streams end now.
  const unwatchRevocations = credentials.onRevoke((c) => {
    for (const [close, id] of [...streams]) if (id === c.id) close();
  });
  // A shared store (cluster mode) that stops vouching for its copy may have missed a revocation:
  // the streams opened with one of its credentials end too (checked every 100 ms).
  const sweep =
    credentials.available === undefined
      ? undefined
      : setInterval(() => {
          if (credentials.available?.() !== false) return;
          for (const [close, id] of [...streams]) if (id !== null) close();
        }, 100);
  sweep?.unref();

  const base = Fastify({
    logger: options.logger === true ? { serializers: { req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url) }) } } : false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: 256 },
    // find-my-way reports undecodable URLs (`%E0%A4%A`) and over-long path segments here, outside
    // the error handler.
    frameworkErrors: (_err, _req, res) => {
      // Its reply type is generic over a route that does not exist; the plain reply is what it is.
      const reply = res as unknown as FastifyReply;
      void reply.code(400).send(errorPayload('API_BAD_REQUEST', 'the URL cannot be routed: bad percent-encoding or a path segment over 256 characters', {
          reason: 'bad-url',
        }));
    },
  });

  // Bodies are checked as sent (no coercion: "5" is not a weight); params and query strings are
  // converted first, since they only ever arrive as text.
  base.setValidatorCompiler(TypeBoxValidatorCompiler);

  // An empty body with a JSON content type is common from fetch() on body-less POSTs; treat it as
  // no body (routes with a body schema still reject it) instead of a parse error.
  const jsonParser = base.getDefaultJsonParser('error', 'error');
  base.removeContentTypeParser('application/json');
  base.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((typeof body === 'string' ? body : body.toString('utf8')).trim() === '') {
      done(null, undefined);
      return;
    }
    void jsonParser(req, typeof body === 'string' ? body : body.toString('utf8'), done);
  });

  base.decorateRequest('principal', null);
  base.decorateRequest('credentialName', null);

  base.setErrorHandler((err, req, reply) => {
    const failure = toHttpFailure(err);
    if (failure.internal) req.log.error({ err }, 'request failed');
    if (req.credentialName !== null && (failure.status === 403 || failure.body.error.code === 'CREDENTIAL_REVOKED')) {
      refusals.record({ kind: 'refusal', at: now(), credential: req.credentialName, code: failure.body.error.code as Refusal['code'], method: req.method, route: req.routeOptions.url ?? '', message: failure.body.error.message });
    }
    if (failure.status === 401) void reply.header('www-authenticate', 'Bearer realm="s-core"');
    return reply.code(failure.status).send(failure.body);
  });

  base.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    return reply.code(404).send(errorPayload('API_NOT_FOUND', `no route ${req.method} ${path}`, { method: req.method, path }));
  });

  const requestToken = (req: FastifyRequest, queryToken: boolean): string | undefined => {
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined || !queryToken) return token;
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    return typeof q === 'string' ? q : undefined;
  };

  base.addHook('onRequest', (req, _reply, done) => {
    const { access, queryToken } = req.routeOptions.config;
    if (access === undefined || access === 'public') {
      done();
      return;
    }
    let auth;
    try {
      auth = authenticate(requestToken(req, queryToken === true));
    } catch (e) {
      // a cluster member out of contact with etcd refuses agent credentials (CLUSTER_UNAVAILABLE)
      done(e as Error);
      return;
    }
    if (auth !== null && 'revoked' in auth) {
      req.credentialName = `${auth.revoked.hypervisor}/${auth.revoked.id}`;
      done(new ScoreError('CREDENTIAL_REVOKED', `credential ${auth.revoked.id} was revoked`, { credential: auth.revoked.id }));
      return;
    }
    req.principal = auth?.principal ?? null;
    req.credentialName = auth?.principal.name ?? null;
    const verdict = allows(access, req.principal?.role ?? null);
    if (verdict === 'unauthenticated') done(new ScoreError('API_UNAUTHORIZED', 'a valid token is required (Authorization: Bearer <token>)'));
    else if (verdict === 'forbidden') done(new ScoreError('API_FORBIDDEN', `${req.method} ${req.routeOptions.url ?? ''} needs the operator token`));
    else done();
  });

  const metrics = options.metrics;
  if (metrics !== undefined) {
    // onResponse sees the final status of every request, 401s and 404s included; the route
    // pattern, not the URL, keeps the label values bounded.
    base.addHook('onResponse', (req, reply, done) => {
      metrics.apiRequest(req.method, req.routeOptions.url, reply.statusCode);
      done();
    });
  }

  // Open event streams keep their sockets busy, so server.close() would wait for clients forever.
  base.addHook('preClose', (done) => {
    clearInterval(sweep);
    unwatchRevocations();
    for (const close of [...streams.keys()]) close();
    done();
  });

  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'S-CORE northbound API',
        version: '1.0.0',
        description: 'Network information for hypervisors and operators, orchestration of network-aware live VM migration, and an event stream. See docs/api.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'operator token or an agent credential' },
          queryToken: { type: 'apiKey', in: 'query', name: 'token', description: 'only on /events, for EventSource' },
        },
      },
    },
  });

  const routes: FastifyPluginCallbackTypebox = (api, _opts, done) => {
    const agent = { access: 'agent' as const };
    const operator = { access: 'operator' as const };
    const pub = { access: 'public' as const };

    api.get('/health', { config: pub, schema: { ...meta({ tag: 'meta', summary: 'Liveness', access: 'public' }), response: ok(HealthDto) } }, () => ({ status: 'ok' as const }));

    api.get('/openapi.json', { config: pub, schema: meta({ tag: 'meta', summary: 'This OpenAPI document', access: 'public' }) }, () => app.swagger());

    api.get(
      '/topology',
      { config: agent, schema: { ...meta({ tag: 'network', summary: 'Switches and links with layers, weights and rates', access: 'agent' }), response: ok(TopologyDto) } },
      () => service.topology(),
    );

    api.get(
      '/hosts',
      { config: agent, schema: { ...meta({ tag: 'network', summary: 'VMs and where the network sees them', access: 'agent' }), response: ok(Type.Array(HostDto)) } },
      () => service.hosts(),
    );

    api.get(
      '/hypervisors',
      {
        config: agent,
        schema: { ...meta({ tag: 'network', summary: 'Hypervisors, capacity, VMs and registered agents', access: 'agent' }), response: ok(Type.Array(HypervisorDto)) },
      },
      () => service.hypervisors(),
    );

    api.get(
      '/vms/:vm/traffic',
      {
        config: agent,
        schema: { ...meta({ tag: 'traffic', summary: "A VM's traffic: C_A(u) and per-peer rates and path costs", access: 'agent' }), params: VmParams, response: ok(VmTrafficDto) },
      },
      (req) => service.vmTraffic(req.params.vm),
    );

    api.get(
      '/vms/:vm/peers',
      {
        config: agent,
        schema: { ...meta({ tag: 'traffic', summary: 'The VMs a VM talks with (the peers of /traffic)', access: 'agent' }), params: VmParams, response: ok(Type.Array(PeerTrafficDto)) },
      },
      (req) => service.vmTraffic(req.params.vm).peers,
    );

    api.get('/weights', { config: agent, schema: { ...meta({ tag: 'weights', summary: 'Layer and link weights', access: 'agent' }), response: ok(WeightsDto) } }, () =>
      service.weights(),
    );

    api.put(
      '/weights/links/:link',
      {
        config: operator,
        schema: { ...meta({ tag: 'weights', summary: "Set one link's weight", access: 'operator' }), params: LinkParams, body: WeightBody, response: ok(WeightsDto) },
      },
      (req) => service.setLinkWeight(req.params.link, req.body.weight),
    );

    api.put(
      '/weights/layers/:layer',
      {
        config: operator,
        schema: { ...meta({ tag: 'weights', summary: 'Set the weight of every link in a layer', access: 'operator' }), params: LayerParams, body: WeightBody, response: ok(WeightsDto) },
      },
      (req) => service.setLayerWeight(Number(req.params.layer), req.body.weight),
    );

    api.get(
      '/paths/cost',
      {
        config: agent,
        schema: { ...meta({ tag: 'paths', summary: 'Weight of the path between two hypervisors', access: 'agent' }), querystring: PathCostQuery, response: ok(PathCostDto) },
      },
      (req) => service.pathCost(req.query.from, req.query.to),
    );

    api.get(
      '/paths/matrix',
      { config: agent, schema: { ...meta({ tag: 'paths', summary: 'Path weight between every pair of hypervisors', access: 'agent' }), response: ok(CostMatrixDto) } },
      () => service.costMatrix(),
    );

    api.get(
      '/cost',
      { config: agent, schema: { ...meta({ tag: 'cost', summary: 'Total communication cost now, with per-layer utilisation', access: 'agent' }), response: ok(CostDto) } },
      () => service.cost(),
    );

    api.get(
      '/cost/history',
      { config: agent, schema: { ...meta({ tag: 'cost', summary: 'Recent cost samples, oldest first', access: 'agent' }), response: ok(Type.Array(CostDto)) } },
      () => service.costHistory(),
    );

    api.get(
      '/migrations',
      {
        config: operator,
        schema: { ...meta({ tag: 'orchestration', summary: 'Migration records with their decisions and inputs', access: 'operator' }), response: ok(Type.Array(MigrationRecordDto)) },
      },
      () => service.migrations(),
    );

    for (const verdict of ['approve', 'skip'] as const) {
      api.post(
        `/migrations/:id/${verdict}`,
        {
          config: operator,
          schema: {
            ...meta({
              tag: 'orchestration',
              summary: verdict === 'approve' ? 'Approve one planned action: carry it out now' : 'Skip one planned action',
              access: 'operator',
              description:
                verdict === 'approve'
                  ? "Only a `planned` record with a target that nobody reviewed yet, while the orchestration is idle. The VM's agent decides again on the network as it is now and migrates; progress arrives as events. Answers the planned record with its review."
                  : 'Only a `planned` record with a target that nobody reviewed yet. Answers the planned record with its review.',
            }),
            params: MigrationParams,
            response: ok(MigrationRecordDto),
          },
        },
        (req) => service.reviewPlan(req.params.id, verdict),
      );
    }

    api.get(
      '/orchestration',
      { config: operator, schema: { ...meta({ tag: 'orchestration', summary: 'Orchestration state', access: 'operator' }), response: ok(OrchestrationDto) } },
      () => service.orchestration(),
    );

    api.post(
      '/orchestration/start',
      {
        config: operator,
        schema: {
          ...meta({ tag: 'orchestration', summary: 'Start migration rounds with a policy', access: 'operator', description: 'Returns the state at once; progress arrives as events.' }),
          body: OrchestrationStartBody,
          response: ok(OrchestrationDto),
        },
      },
      (req) => service.startOrchestration(req.body),
    );

    api.post(
      '/orchestration/stop',
      { config: operator, schema: { ...meta({ tag: 'orchestration', summary: 'Stop after the current migration', access: 'operator' }), response: ok(OrchestrationDto) } },
      () => service.stopOrchestration(),
    );

    api.post(
      '/agents/register',
      {
        config: agent,
        schema: {
          ...meta({
            tag: 'agents',
            summary: "Register a hypervisor's agent URL",
            access: 'agent',
            description: "The controller calls POST <url>/agent/v1/decide and /agent/v1/cost on it. An agent credential registers only its own hypervisor (else 403 AGENT_IDENTITY_MISMATCH). The answer's controllerCall.sha256 is how the agent recognises the controller's calls.",
          }),
          body: AgentRegisterBody,
          response: ok(AgentRegisteredDto),
        },
      },
      (req) => {
        if (req.principal !== null) checkRegister(req.principal, req.body.hypervisor);
        const hv = service.registerAgent(req.body.hypervisor, req.body.url);
        return { ...hv, controllerCall: options.controllerCredential !== undefined ? { sha256: options.controllerCredential.verifierFor(hv.name) } : null };
      },
    );

    api.post(
      '/agents/migration-done',
      {
        config: agent,
        schema: {
          ...meta({
            tag: 'agents',
            summary: 'A migration finished: the VM now runs on this hypervisor',
            access: 'agent',
            description: "Also sent at the switch-over (QEMU paused the source for its last copy: the VM is about to run only there, and the network follows at once), and again with the source if that switch-over fails. An agent credential reports only a VM arriving at its own hypervisor, or, as the source of the running migration `migrationId`, that migration's target (else 403 AGENT_VM_NOT_OURS). A `port` that is a switch-to-switch link: 403 NOT_A_HOST_PORT.",
          }),
          body: MigrationDoneBody,
          response: ok(HostDto),
        },
      },
      (req) => {
        if (req.principal !== null) checkMigrationDone(req.principal, req.body, { hosts: service.hosts(), migrations: service.migrations(), reconciled: service.reconciled });
        return service.migrationDone(req.body.vm, req.body.hypervisor, req.body.migrationId, req.body.port);
      },
    );

    api.get(
      '/events',
      {
        config: { access: 'agent', queryToken: true },
        // A HEAD would subscribe and hold the socket with nothing to show for it.
        exposeHeadRoute: false,
        schema: {
          ...meta({
            tag: 'events',
            summary: 'Server-sent events',
            access: 'agent',
            description: 'text/event-stream; each event is `event: <type>` and `data: <NorthEvent JSON>`; a `: heartbeat` comment every 15 s.',
          }),
          security: [{ bearer: [] }, { queryToken: [] }],
          querystring: EventsQuery,
        },
      },
      (req, reply) => {
        let types: Set<string> | null = null;
        if (req.query.types !== undefined) {
          const wanted = req.query.types
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t.length > 0);
          const unknown = wanted.filter((t) => !(NORTH_EVENT_TYPES as readonly string[]).includes(t));
          if (unknown.length > 0 || wanted.length === 0) {
            throw new ScoreError('API_BAD_REQUEST', `unknown event type(s): ${unknown.join(', ') || '(none given)'}`, {
              part: 'querystring',
              unknown,
              known: [...NORTH_EVENT_TYPES],
            });
          }
          types = new Set(wanted);
        }
        // A revocation between authentication and here would find no stream to close: check
        // again now; from here on the stream is registered (synchronously) and revocation ends it.
        const credential = req.principal?.role === 'agent' ? req.principal.credential : null;
        if (credential !== null) {
          const again = authenticate(requestToken(req, true));
          if (again === null || 'revoked' in again) throw new ScoreError('CREDENTIAL_REVOKED', `credential ${credential.id} was revoked`, { credential: credential.id });
        }
        const close = openEventStream(reply, service, types, { heartbeatMs, maxBufferedBytes: SSE_MAX_BUFFERED_BYTES });
        streams.set(close, req.principal?.role === 'agent' ? (req.principal.credential?.id ?? null) : null);
        reply.raw.once('close', () => streams.delete(close));
      },
    );

    done();
  };
  void app.register(routes, { prefix: API_PREFIX });
  void app.register(credentialRoutes({ credentials, refusals, knowsHypervisor: (hv) => options.expectedHypervisors?.has(hv) === true || service.hypervisors().some((h) => h.name === hv) }), { prefix: API_PREFIX });

  if (metrics !== undefined) {
    const access = metrics.access ?? 'agent';
    // At the root, where Prometheus looks by default, outside the versioned JSON API.
    app.get(
      '/metrics',
      {
        config: { access },
        schema: meta({ tag: 'meta', summary: 'Prometheus metrics', access, description: 'Prometheus text exposition format 0.0.4 (text/plain; version=0.0.4). See docs/api.md for the metrics.' }),
      },
      async (_req, reply) => {
        const text = await metrics.render();
        return reply.type(metrics.contentType).send(text);
      },
    );
  }

  const web = options.web;
  if (web !== undefined) {
    // The page and its script are public (they hold no data); every API call they make needs the
    // operator token, which the page asks for.
    const pub = { access: 'public' as const };
    const hidden = { hide: true };
    app.get('/', { config: pub, schema: hidden }, (_req, reply) => reply.redirect(DASHBOARD_PATH));
    app.get('/dashboard', { config: pub, schema: hidden }, (_req, reply) => reply.redirect(DASHBOARD_PATH));
    app.get(DASHBOARD_PATH, { config: pub, schema: hidden }, async (_req, reply) => sendWebFile(reply, await readWebFile(web.dir, 'index.html')));
    app.get(
      `${DASHBOARD_PATH}:file`,
      { config: pub, schema: { ...hidden, params: Type.Object({ file: Type.String({ minLength: 1, maxLength: 128 }) }) } },
      async (req, reply) => sendWebFile(reply, await readWebFile(web.dir, req.params.file)),
    );
  }

  return app;
}
