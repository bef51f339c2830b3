import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiTokens } from './contract.ts';
import { ScoreError } from '../errors/errors.ts';

export type Role = 'operator' | 'agent';
/** Who may call a route: nobody needs a token, an agent (or operator) token, or the operator token. */
export type Access = 'public' | 'agent' | 'operator';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Token checks that take the same time whatever the guess: both sides are hashed first, so
 * timingSafeEqual always compares 32 bytes and the token length does not leak either.
 */
export function createAuthenticator(tokens: ApiTokens): (token: string | undefined) => Role | null {
  if (typeof tokens.operator !== 'string' || typeof tokens.agent !== 'string' || tokens.operator.length === 0 || tokens.agent.length === 0) {
    // An empty token would let "Authorization: Bearer " in.
    throw new ScoreError('CLI_USAGE', 'API tokens must be non-empty strings');
  }
  if (tokens.operator === tokens.agent) {
    throw new ScoreError('CLI_USAGE', 'the operator and agent API tokens must differ (agents must not get operator rights)');
  }
  const operator = digest(tokens.operator);
  const agent = digest(tokens.agent);
  return (token) => {
    if (token === undefined || token.length === 0) return null;
    const d = digest(token);
    // Evaluate both comparisons so the time does not tell which role a token almost matched.
    const isOperator = timingSafeEqual(d, operator);
    const isAgent = timingSafeEqual(d, agent);
    return isOperator ? 'operator' : isAgent ? 'agent' : null;
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
