/**
 * The key cluster members derive their agent call tokens from (src/api/identity.ts
 * `controllerCredential`): the same on every member, so an agent that registered with one leader
 * accepts the next leader's calls at once (it holds only the SHA-256 of the token for its own
 * hypervisor). Derived from the operator token, which every member must share and no agent holds:
 * HMAC-SHA256(operator token, "s-core cluster agent call key v1").
 *
 * Interim: a key kept in etcd with the per-agent credentials would not tie agent calls to the
 * operator token (rotating it changes every call token; agents learn the new verifier when they
 * next register, within `score agent --check-ms`).
 */
import { createHmac } from 'node:crypto';

export function clusterCallKey(operatorToken: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', operatorToken).update('s-core cluster agent call key v1', 'utf8').digest());
}
