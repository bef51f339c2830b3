import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryCredentialStore } from './credential-store.ts';
import { createAuthenticator } from './auth.ts';
import { controllerCredential } from './identity.ts';
import { controllerVerifier } from '../agent/server.ts';
import { isScoreError } from '../errors/errors.ts';

test('credential store: a token verifies as its hypervisor until revoked; near misses do not', async () => {
  let now = 1000;
  const store = memoryCredentialStore({ now: () => now });
  const a = await store.issue('hv16');
  const b = await store.issue('hv16');
  assert.notEqual(a.token, b.token, 'a hypervisor may hold several credentials (rotation)');
  assert.deepEqual(store.verify(a.token), { status: 'active', credential: a.credential });
  const [id, secret] = a.token.split('.') as [string, string];
  for (const wrong of [`${id}.${secret.slice(0, -1)}`, `${id}.${b.token.split('.')[1]!}`, `${b.credential.id}.${secret}`, id, '', '.', `cred-zzzzzzzzzzzz.${secret}`]) {
    assert.equal(store.verify(wrong), null, wrong);
  }
  const revokedSeen: string[] = [];
  store.onRevoke((c) => revokedSeen.push(c.id));
  now = 2000;
  const r = await store.revoke(a.credential.id);
  assert.equal(r.revokedAt, 2000);
  assert.deepEqual(store.verify(a.token), { status: 'revoked', credential: r });
  assert.equal(store.verify(b.token)?.status, 'active');
  assert.deepEqual(await store.revoke(a.credential.id), r, 'revoking twice answers the same record');
  assert.deepEqual(revokedSeen, [a.credential.id], 'listeners hear a revocation once');
  await assert.rejects(store.revoke('cred-000000000000'), (e) => isScoreError(e, 'UNKNOWN_CREDENTIAL'));
  await assert.rejects(store.issue(''), (e) => isScoreError(e, 'API_BAD_REQUEST'));
  assert.deepEqual((await store.list()).map((c) => c.revokedAt), [2000, null]);
});

test('authenticator: operator, credential, revoked and unknown tokens; the shared token needs the opt-in', async () => {
  const store = memoryCredentialStore();
  const { token, credential } = await store.issue('hv17');
  const auth = createAuthenticator({ tokens: { operator: 'operator-token' }, credentials: store });
  assert.deepEqual(auth('operator-token'), { principal: { role: 'operator', name: 'operator' } });
  assert.deepEqual(auth(token), { principal: { role: 'agent', name: `hv17/${credential.id}`, hypervisor: 'hv17', credential } });
  assert.equal(auth('nope'), null);
  assert.equal(auth(undefined), null);
  await store.revoke(credential.id);
  assert.ok(auth(token) !== null && 'revoked' in auth(token)!, 'auth(token) !== null && \'revoked\' in auth(token)!');
  assert.throws(() => createAuthenticator({ tokens: { operator: 'o', agent: 'shared' } }), (e) => isScoreError(e, 'SHARED_AGENT_TOKEN_DISABLED'));
  const shared = createAuthenticator({ tokens: { operator: 'o', agent: 'shared' }, allowSharedAgentToken: true });
  assert.deepEqual(shared('shared'), { principal: { role: 'agent', name: 'shared-agent-token', hypervisor: null, credential: null } });
});

test("controller credential: one token per hypervisor; an agent's verifier accepts only its own", () => {
  const c = controllerCredential(new Uint8Array(32).fill(7));
  assert.notEqual(c.tokenFor('hv16'), c.tokenFor('hv17'));
  assert.equal(c.tokenFor('hv16'), controllerCredential(new Uint8Array(32).fill(7)).tokenFor('hv16'), 'derived, so replicas sharing the key agree');
  assert.notEqual(c.tokenFor('hv16'), controllerCredential(new Uint8Array(32).fill(8)).tokenFor('hv16'));
  const v = controllerVerifier(c.verifierFor('hv16'));
  assert.equal(v.accepts(c.tokenFor('hv16')), true);
  assert.equal(v.accepts(c.tokenFor('hv17')), false);
  assert.equal(v.accepts(c.verifierFor('hv16')), false, 'the verifier itself is no token');
  assert.equal(controllerVerifier().accepts(c.tokenFor('hv16')), false, 'an unregistered agent accepts no one');
  assert.throws(() => controllerCredential(new Uint8Array(8)), (e) => isScoreError(e, 'CLI_USAGE'));
});
