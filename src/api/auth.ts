import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiTokens } from './contract.ts';
import type { Credential, CredentialStore } from './credential-store.ts';
import { ScoreError } from '../errors/errors.ts';

export type Role = 'operator' | 'agent';
/** Who may call a route: nobody needs a token, an agent (or operator) token, or the operator token. */
export type Access = 'public' | 'agent' | 'operator';

/**
 * Who a request is. An agent with `hypervisor: null` holds the shared agent token (test set-ups
 * only) and may act as any hypervisor; otherwise it is bound to one hypervisor by its credential.
 * `name` is what audit lines and log messages show: `operator`, `shared-agent-token`, or
 * `<hypervisor>/<credential id>`.
 */
export type Principal =
  | { readonly role: 'operator'; readonly name: 'operator' }
  | { readonly role: 'agent'; readonly name: string; readonly hypervisor: string | null; readonly credential: Credential | null };

export type Authentication = { readonly principal: Principal } | { readonly revoked: Credential } | null;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export interface AuthOptions {
  readonly tokens: ApiTokens;
  /** per-hypervisor agent credentials */
  readonly credentials?: CredentialStore;
  /** accept `tokens.agent` as an agent that may act as any hypervisor (test set-ups only) */
  readonly allowSharedAgentToken?: boolean;
}

/**
 * Token checks that take the same time whatever the guess: both sides are hashed first, so
 * timingSafeEqual always compares 32 bytes and the token length does not leak either.
 * Throws CLI_USAGE for empty or equal tokens, SHARED_AGENT_TOKEN_MISUSED for a shared agent token
 * shaped like a credential (`cred-...`) and SHARED_AGENT_TOKEN_DISABLED for one without the opt-in.
 */
export function createAuthenticator(o: AuthOptions): (token: string | undefined) => Authentication {
  const { tokens } = o;
  if (typeof tokens.operator !== 'string' || tokens.operator.length === 0 || (tokens.agent !== undefined && (typeof tokens.agent !== 'string' || tokens.agent.length === 0))) {
    // An empty token would let "Authorization: Bearer " in.
    throw new ScoreError('CLI_USAGE', 'API tokens must be non-empty strings');
  }
  if (tokens.operator === tokens.agent) {
    throw new ScoreError('CLI_USAGE', 'the operator and agent API tokens must differ (agents must not get operator rights)');
  }
  if (tokens.agent !== undefined && /^cred-/.test(tokens.agent)) {
    // An agent's own credential given to the controller as the shared token would let every holder of it act as any hypervisor.
    throw new ScoreError('SHARED_AGENT_TOKEN_MISUSED', 'the shared agent token looks like an agent credential (cred-...): set the controller\'s SCORE_SHARED_AGENT_TOKEN, not an agent\'s SCORE_AGENT_TOKEN');
  }
  if (tokens.agent !== undefined && o.allowSharedAgentToken !== true) {
    throw new ScoreError('SHARED_AGENT_TOKEN_DISABLED', 'a shared agent token lets any agent act as any hypervisor; it needs the explicit opt-in (allowSharedAgentToken, --allow-shared-agent-token) and is for test set-ups only');
  }
  const operator = digest(tokens.operator);
  // With no shared token, compare against a digest nobody can present (it is not a token's hash).
  const agent = tokens.agent !== undefined ? digest(tokens.agent) : Buffer.alloc(32);
  const operatorPrincipal: Principal = { role: 'operator', name: 'operator' };
  const sharedPrincipal: Principal = { role: 'agent', name: 'shared-agent-token', hypervisor: null, credential: null };
  return (token) => {
    if (token === undefined || token.length === 0) return null;
    const d = digest(token);
    // Evaluate both comparisons so the time does not tell which role a token almost matched.
    const isOperator = timingSafeEqual(d, operator);
    const isAgent = timingSafeEqual(d, agent) && tokens.agent !== undefined;
    if (isOperator) return { principal: operatorPrincipal };
    if (isAgent) return { principal: sharedPrincipal };
    const v = o.credentials?.verify(token) ?? null;
    if (v === null) return null;
    if (v.status === 'revoked') return { revoked: v.credential };
    return { principal: { role: 'agent', name: `${v.credential.hypervisor}/${v.credential.id}`, hypervisor: v.credential.hypervisor, credential: v.credential } };
  };
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other scheme. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

export function allows(access: Access, role: Role | null): 'ok' | 'unauthenticated' | 'forbidden' {
  if (access === 'public') return 'ok';
  if (role === null) return 'unauthenticated';
  if (access === 'operator' && role !== 'operator') return 'forbidden';
  return 'ok';
}
