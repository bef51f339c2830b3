import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHttpFailure, validationMessage } from './http-errors.ts';

test('a union of constants is one "must be one of" line, not one per constant plus anyOf', () => {
  const issues = [
    ...['round-robin', 'load-aware', 'gain-order'].map((v) => ({ instancePath: '/policy', message: 'must be equal to constant', keyword: 'const', params: { allowedValue: v } })),
    { instancePath: '/policy', message: 'must match a schema in anyOf', keyword: 'anyOf' },
  ];
  assert.equal(validationMessage('body', issues), 'body/policy: must be one of round-robin, load-aware, gain-order');
});

test("a union's constants cut off by the validator's 8-issue limit are not presented as the whole list", async () => {
  // the real validator on a body like POST /orchestration/start's: a bad policy (6 constants) fills most of the 8 issues
  const { TypeBoxValidatorCompiler } = await import('@fastify/type-provider-typebox');
  const { Type } = await import('typebox');
  const schema = Type.Object({
    policy: Type.Union(['round-robin', 'load-aware', 'rr', 'la', 'gain-order', 'gain'].map((p) => Type.Literal(p))),
    mode: Type.Optional(Type.Union([Type.Literal('first'), Type.Literal('best')])),
  });
  const validate = TypeBoxValidatorCompiler({ schema, method: 'POST', url: '/x', httpPart: 'body' });
  const r = validate({ policy: 'zz', mode: 'worst' }) as { error?: { validation?: { instancePath?: string; message?: string; keyword?: string; params?: unknown }[] } | { instancePath?: string; message?: string; keyword?: string; params?: unknown }[] };
  const issues = Array.isArray(r.error) ? r.error : (r.error?.validation ?? []);
  assert.ok(issues.length > 0, `the validator refused the body: ${JSON.stringify(r)}`);
  const msg = validationMessage('body', issues);
  assert.match(msg, /body\/policy: must be one of round-robin, load-aware, rr, la, gain-order, gain(;|$)/);
  assert.doesNotMatch(msg, /body\/mode: must be one of first(;|$)/, `a cut list is not the whole list: ${msg}`);
});

test('an unknown field is named once (its "schema is false" repeat dropped); a missing one is named; others keep their message', () => {
  const issues = [
    { instancePath: '/x', message: 'schema is false', keyword: 'boolean' },
    { instancePath: '', message: 'must not have additional properties', keyword: 'additionalProperties', params: { additionalProperties: ['x'] } },
    { instancePath: '', message: 'must have required properties to', keyword: 'required', params: { requiredProperties: ['to'] } },
    { instancePath: '/weight', message: 'must be number', keyword: 'type', params: { type: 'number' } },
  ];
  assert.equal(validationMessage('querystring', issues), 'querystring: unknown field(s) "x"; querystring: missing required field(s) "to"; querystring/weight: must be number');
  assert.equal(validationMessage('body', []), 'invalid body');
});

test("a validation failure's HTTP body: 400 API_BAD_REQUEST, the readable message, the issues kept in details", () => {
  const err = Object.assign(new Error('raw'), { validationContext: 'body', validation: [{ instancePath: '/weight', message: 'must be number', keyword: 'type', params: { type: 'number' } }] });
  const f = toHttpFailure(err);
  assert.equal(f.status, 400);
  const body = f.body as { error: { code: string; message: string; details: { part: string; issues: unknown[] } } };
  assert.equal(body.error.code, 'API_BAD_REQUEST');
  assert.equal(body.error.message, 'body/weight: must be number');
  assert.equal(body.error.details.issues.length, 1);
});
