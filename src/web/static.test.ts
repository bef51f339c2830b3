import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApiServer, type ApiServer } from '../api/server.ts';
import type { ControllerService } from '../api/contract.ts';
import { buildWeb } from './build.ts';

const TOKENS = { operator: 'operator-secret-0123456789' };
// The dashboard routes never reach the service; any call would be a bug.
const service = new Proxy({} as ControllerService, {
  get: (_t, p) => () => {
    throw new Error(`dashboard route called the service (${String(p)})`);
  },
});

describe('dashboard files served by the API server', () => {
  let dir: string;
  let secretDir: string;
  let app: ApiServer;
  let bare: ApiServer;
  let unbuilt: ApiServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'score-web-'));
    secretDir = mkdtempSync(join(tmpdir(), 'score-web-secret-'));
    writeFileSync(join(secretDir, 'secret.txt'), 'do not serve');
    const files = await buildWeb(join(dir, 'web'));
    assert.deepEqual(files, ['app.js', 'app.js.map', 'index.html', 'style.css']);
    writeFileSync(join(dir, 'outside.js'), 'outside');
    app = buildApiServer({ service, tokens: TOKENS, web: { dir: join(dir, 'web') } });
    bare = buildApiServer({ service, tokens: TOKENS });
    unbuilt = buildApiServer({ service, tokens: TOKENS, web: { dir: join(dir, 'missing') } });
    await Promise.all([app.ready(), bare.ready(), unbuilt.ready()]);
  });
  after(async () => {
    await Promise.all([app.close(), bare.close(), unbuilt.close()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
  });

  test('/ redirects to /dashboard/, which serves the page without a token', async () => {
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/dashboard/');
    const page = await app.inject({ method: 'GET', url: '/dashboard/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<script type="module" src="app.js">/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const js = await app.inject({ method: 'GET', url: '/dashboard/app.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.ok(js.body.includes('/api/v1'), 'the bundle talks to the API');
    const css = await app.inject({ method: 'GET', url: '/dashboard/style.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });

  test('nothing outside the build folder is reachable', async () => {
    const tries = [
      '/dashboard/../outside.js',
      '/dashboard/%2e%2e%2foutside.js',
      '/dashboard/..%2foutside.js',
      '/dashboard/%2e%2e/outside.js',
      '/dashboard/..%5coutside.js',
      `/dashboard/${encodeURIComponent(join(secretDir, 'secret.txt'))}`,
      '/dashboard/%2fetc%2fpasswd',
      '/dashboard/.hidden.js',
      '/dashboard/nope.js',
      '/dashboard/index',
      '/dashboard/app.js%00.css',
      '/dashboard/x.exe',
    ];
    for (const url of tries) {
      const res = await app.inject({ method: 'GET', url });
      assert.ok(res.statusCode === 404 || res.statusCode === 400, `${url} -> ${res.statusCode}`);
      assert.ok(!res.body.includes('outside') || res.body.includes('API_NOT_FOUND'), `${url} leaked: ${res.body}`);
      assert.ok(!res.body.includes('do not serve'), `${url} leaked the secret`);
      assert.match(res.body, /API_NOT_FOUND|API_BAD_REQUEST/);
    }
  });

  test('a missing bundle is a clear 503 WEB_NOT_BUILT, not a crash', async () => {
    for (const url of ['/dashboard/', '/dashboard/app.js']) {
      const res = await unbuilt.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 503, url);
      const body = res.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, 'WEB_NOT_BUILT');
      assert.match(body.error.message, /npm run build:web/);
    }
    // the API itself is unaffected
    assert.equal((await unbuilt.inject({ method: 'GET', url: '/api/v1/health' })).statusCode, 200);
  });

  test('without the web option there is no dashboard route at all', async () => {
    for (const url of ['/', '/dashboard/']) assert.equal((await bare.inject({ method: 'GET', url })).statusCode, 404);
  });

  test('dashboard routes stay out of the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    assert.deepEqual(Object.keys(doc.paths).filter((p) => !p.startsWith('/api/v1/')), []);
  });
});
