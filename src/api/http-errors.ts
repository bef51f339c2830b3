import type { FastifyError } from 'fastify';
import { isScoreError, type ErrorCode } from '../errors/errors.ts';
import { schemaProblems, type SchemaIssue } from '../errors/schema-issues.ts';

/** The one error shape every API response uses: `{ error: { code, message, details? } }`. */
export interface ErrorPayload {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface HttpFailure {
  readonly status: number;
  readonly body: ErrorPayload;
  /** true when the failure is ours (a bug), so it is worth a log line with the stack */
  readonly internal: boolean;
}

/**
 * HTTP status per ScoreError code. Codes not listed are server-side failures (500) that keep their
 * own code, so a client can still tell an OpenFlow timeout from a bug; INTERNAL is reserved for
 * exceptions that are not ScoreErrors at all.
 */
export const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  API_BAD_REQUEST: 400,
  API_UNAUTHORIZED: 401,
  API_FORBIDDEN: 403,
  AGENT_IDENTITY_MISMATCH: 403,
  AGENT_VM_NOT_OURS: 403,
  NOT_A_HOST_PORT: 403,
  CREDENTIAL_REVOKED: 401,
  UNKNOWN_CREDENTIAL: 404,
  API_NOT_FOUND: 404,
  UNKNOWN_VM: 404,
  UNKNOWN_HYPERVISOR: 404,
  UNKNOWN_LINK: 404,
  NO_AGENT: 404,
  UNKNOWN_MIGRATION: 404,
  PLAN_NOT_PENDING: 409,
  // Both endpoints exist and are known, the network just does not join them: not a "no such
  // resource" 404, which clients would confuse with a misspelt hypervisor name.
  NO_PATH: 422,
  ORCHESTRATION_RUNNING: 409,
  ORCHESTRATION_IDLE: 409,
  CONTINUOUS_INVALID: 400,
  MIGRATION_IN_PROGRESS: 409,
  TOPOLOGY_INVALID: 422,
  CAPACITY_EXCEEDED: 422,
  AGENT_UNREACHABLE: 502,
  MIGRATION_FAILED: 502,
  MIGRATION_TIMEOUT: 504,
  // The server is fine; a build step was skipped. 503 tells a client to retry after a deploy.
  WEB_NOT_BUILT: 503,
  // cluster mode: retry shortly, or on another member
  CLUSTER_UNAVAILABLE: 503,
  CLUSTER_NOT_LEADER: 503,
  CLUSTER_UNCONFIRMED: 503,
  SWITCHOVER_NO_LEADER: 503,
};

export function errorPayload(code: string, message: string, details?: Record<string, unknown>): ErrorPayload {
  return details === undefined || Object.keys(details).length === 0 ? { error: { code, message } } : { error: { code, message, details } };
}

const MAX_ISSUES = 10;

/**
 * One readable sentence from a schema validator's issues, e.g. `body/policy: must be one of
 * round-robin, load-aware` or `querystring: unknown field(s) "x"` (schema-issues.ts says each
 * thing once). The validator stops at 8 issues (TypeBox's guard): a union's constants cut off
 * there are said to be cut.
 */
export function validationMessage(part: string, issues: readonly SchemaIssue[]): string {
  return schemaProblems(issues).map((p) => `${part}${p.path}: ${p.message}`).join('; ') || `invalid ${part}`;
}

/** Turns anything thrown while handling a request into a status and an error body. */
export function toHttpFailure(err: unknown): HttpFailure {
  if (isScoreError(err)) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    return { status, body: errorPayload(err.code, err.message, { ...err.details }), internal: status === 500 };
  }
  const fe = err as Partial<FastifyError> & { validation?: SchemaIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const issues = fe.validation.slice(0, MAX_ISSUES).map((i) => ({
      path: i.instancePath ?? '',
      message: i.message ?? 'invalid',
      keyword: i.keyword ?? 'unknown',
      ...(i.params !== undefined && typeof i.params === 'object' && Object.keys(i.params as object).length > 0 ? { params: i.params } : {}),
    }));
    return {
      status: 400,
      body: errorPayload('API_BAD_REQUEST', validationMessage(fe.validationContext ?? 'request', fe.validation), { part: fe.validationContext ?? 'request', issues }),
      internal: false,
    };
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 413) {
    return { status, body: errorPayload('API_BAD_REQUEST', 'the request body is too large', { reason: 'body-too-large' }), internal: false };
  }
  if (status >= 400 && status < 500) {
    // Fastify's own client errors: malformed JSON, prototype-poisoning keys, unsupported media type.
    const reason = fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported-media-type' : fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'empty-body' : 'malformed-body';
    return { status, body: errorPayload('API_BAD_REQUEST', fe.message ?? 'bad request', { reason }), internal: false };
  }
  return { status: 500, body: errorPayload('INTERNAL', 'internal error; see the controller log'), internal: true };
}
