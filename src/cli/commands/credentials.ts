import type { Command } from 'commander';
import { ERROR_CODES, ScoreError, type ErrorCode } from '../../errors/errors.ts';
import type { CredentialInfo, IssuedCredential } from '../../api/routes/credentials.ts';

/**
 * `score credentials list|issue|revoke`: the operator's side of per-hypervisor agent credentials,
 * over the controller's API (operator token).
 */
export interface CredentialsClient {
  list(): Promise<CredentialInfo[]>;
  issue(hypervisor: string): Promise<IssuedCredential>;
  revoke(id: string): Promise<CredentialInfo>;
}

/** Errors keep the API's code (UNKNOWN_CREDENTIAL, API_FORBIDDEN, ...); a controller that does not answer is CONTROLLER_UNREACHABLE (exit 1, a failure at run time). */
export function credentialsClient(controller: string, token: string, timeoutMs = 10_000): CredentialsClient {
  const base = `${controller.replace(/\/+$/, '')}/api/v1`;
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new ScoreError('CONTROLLER_UNREACHABLE', `--controller ${controller}: no answer (${e instanceof Error ? e.message : String(e)})`, { controller });
    }
    const parsed = (await res.json().catch(() => null)) as (T & { error?: { code?: string; message?: string } }) | null;
    if (!res.ok || parsed === null) {
      const code = parsed?.error?.code;
      throw new ScoreError(code !== undefined && code in ERROR_CODES ? (code as ErrorCode) : 'INTERNAL', `${method} ${path}: ${res.status} ${parsed?.error?.message ?? ''}`.trim(), { status: res.status });
    }
    return parsed;
  }
  return {
    list: () => call('GET', '/credentials'),
    issue: (hypervisor) => call('POST', '/credentials', { hypervisor }),
    revoke: (id) => call('POST', `/credentials/${encodeURIComponent(id)}/revoke`),
  };
}

/** One line per credential, for `score credentials list`. Pure. */
export function formatCredentials(list: readonly CredentialInfo[]): string[] {
  if (list.length === 0) return ['no agent credentials'];
  const w = Math.max(...list.map((c) => c.hypervisor.length), 10);
  return list.map((c) => `${c.id}  ${c.hypervisor.padEnd(w)}  issued ${new Date(c.createdAt).toISOString()}  ${c.revokedAt === null ? 'active' : `revoked ${new Date(c.revokedAt).toISOString()}`}`);
}

interface Opts {
  controller: string;
  token?: string;
}

export function registerCredentials(program: Command): void {
  const cmd = program.command('credentials').description("per-hypervisor agent credentials on a running controller: list, issue, revoke (operator token)");
  const common = (c: Command): Command =>
    c.option('--controller <url>', 'the controller API', 'http://127.0.0.1:8080').option('--token <token>', 'operator token (or env SCORE_OPERATOR_TOKEN)');
  const client = (o: Opts): CredentialsClient => {
    const token = o.token ?? process.env.SCORE_OPERATOR_TOKEN;
    if (!token) throw new ScoreError('CLI_USAGE', '--token or SCORE_OPERATOR_TOKEN is required');
    return credentialsClient(o.controller, token);
  };
  common(cmd.command('list').description('every credential, revoked ones included (never the tokens)')).action(async (o: Opts) => {
    for (const l of formatCredentials(await client(o).list())) console.log(l);
  });
  common(cmd.command('issue').argument('<hypervisor>').description('issue a credential bound to this hypervisor; prints its token (shown only once) on stdout')).action(
    async (hypervisor: string, o: Opts) => {
      const { credential, token, warning } = await client(o).issue(hypervisor);
      if (warning !== undefined) console.error(`WARN ${warning}`);
      console.error(`issued ${credential.id} for ${credential.hypervisor}; start its agent with: score agent --hypervisor ${credential.hypervisor} --token <this token>`);
      console.log(token);
    },
  );
  common(cmd.command('revoke').argument('<id>').description('revoke a credential at once: its next request is refused, its event streams close')).action(async (id: string, o: Opts) => {
    const c = await client(o).revoke(id);
    console.log(`revoked ${c.id} (${c.hypervisor})`);
  });
}
