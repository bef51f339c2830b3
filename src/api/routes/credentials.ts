import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ErrorBody } from '../contract.ts';
import type { CredentialStore } from '../credential-store.ts';
import type { RefusalLog } from '../identity.ts';

/**
 * Operator routes for per-hypervisor agent credentials (list, issue, revoke) and the refusals the
 * API wrote to the audit log. Mounted under /api/v1 by buildApiServer; every route needs the
 * operator token.
 */
export const CredentialDto = Type.Object({
  id: Type.String({ description: 'public name of the credential, `cred-` + 12 hex digits' }),
  hypervisor: Type.String({ description: 'the hypervisor it may act as' }),
  createdAt: Type.Number({ description: 'ms since epoch' }),
  revokedAt: Type.Union([Type.Number(), Type.Null()]),
});
export const IssuedCredentialDto = Type.Object({
  credential: CredentialDto,
  token: Type.String({ description: 'the bearer token; shown only here, the controller keeps its SHA-256 only' }),
  warning: Type.Optional(Type.String({ description: 'set when the controller does not know this hypervisor (yet): the credential is issued anyway, for a hypervisor that has not connected' })),
});
export const IssueCredentialBody = Type.Object({ hypervisor: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const RefusalDto = Type.Object({
  kind: Type.Literal('refusal'),
  at: Type.Number(),
  credential: Type.String({ description: '`<hypervisor>/<credential id>`, `shared-agent-token` or `operator`' }),
  code: Type.String(),
  method: Type.String(),
  route: Type.String(),
  message: Type.String(),
  suppressed: Type.Optional(Type.Integer({ description: 'refusals of this credential left out (rate limit) since its previous line' })),
});
export type CredentialInfo = Static<typeof CredentialDto>;
export type IssuedCredential = Static<typeof IssuedCredentialDto>;

const CredentialParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const operator = { access: 'operator' as const };
const doc = (summary: string, description?: string) => ({ tags: ['credentials'], summary, description: `${description ?? summary}\n\nAuth: operator token.`, security: [{ bearer: [] }] });

export function credentialRoutes(o: { credentials: CredentialStore; refusals: RefusalLog; knowsHypervisor?: (hypervisor: string) => boolean }): FastifyPluginCallbackTypebox {
  return (api, _opts, done) => {
    api.get('/credentials', { config: operator, schema: { ...doc('Agent credentials, revoked ones included (no secrets)'), response: { 200: Type.Array(CredentialDto), ...errors } } }, () => o.credentials.list());

    api.post(
      '/credentials',
      {
        config: operator,
        schema: {
          ...doc(
            'Issue a credential for one hypervisor',
            'The answer holds the token once; give it to that hypervisor\'s `score agent --token`. The hypervisor need not be connected yet: for a name the controller does not know, the credential is issued and the answer carries a `warning` (a typo would otherwise go unnoticed until the agent fails to register).',
          ),
          body: IssueCredentialBody,
          response: { 200: IssuedCredentialDto, ...errors },
        },
      },
      async (req) => {
        const issued = await o.credentials.issue(req.body.hypervisor);
        if (o.knowsHypervisor === undefined || o.knowsHypervisor(req.body.hypervisor)) return issued;
        return { ...issued, warning: `the controller does not know a hypervisor ${JSON.stringify(req.body.hypervisor)} (yet): the credential works once a hypervisor of that name connects` };
      },
    );

    api.post(
      '/credentials/:id/revoke',
      {
        config: operator,
        schema: {
          ...doc('Revoke a credential', 'Effective at once: its next request is refused (401 CREDENTIAL_REVOKED) and its open event streams end. Revoking twice answers the same record.'),
          params: CredentialParams,
          response: { 200: CredentialDto, ...errors },
        },
      },
      (req) => o.credentials.revoke(req.params.id),
    );

    api.get(
      '/audit/refusals',
      { config: operator, schema: { ...doc('Refused requests of known credentials (403s, revoked credentials), oldest first'), response: { 200: Type.Array(RefusalDto), ...errors } } },
      () => o.refusals.recent(),
    );
    done();
  };
}
