/**
 * Gate for tests that need the real system (root, Open vSwitch, iproute2, ...).
 *
 * On a developer laptop such tests skip with a reason; in CI (`SCORE_REQUIRE_SYSTEM_TESTS=1`) a
 * missing requirement is an error, because a silently skipped system test would let CI go green
 * without ever touching a real switch.
 *
 * Usage, at the top of a test file:
 *   const gate = systemTestGate({ root: true, tools: ['ovs-vsctl', 'ip'] });
 *   test('talks to OVS', { skip: gate.skip }, async () => { ... });
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';

export interface SystemRequirements {
  /** Needs uid 0 (namespaces, veths, tc, OVS daemons). */
  readonly root?: boolean;
  /** Executables that must be found on PATH or in the sbin directories. */
  readonly tools?: readonly string[];
}

export type GateResult = { readonly skip: false } | { readonly skip: string };

export const REQUIRE_ENV = 'SCORE_REQUIRE_SYSTEM_TESTS';

// Daemons such as ovs-vswitchd and tools such as ip live in sbin, which a non-root PATH often
// lacks; looking there too keeps "not installed" distinct from "not on this user's PATH".
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of an executable, or undefined when it is not installed. */
export function findTool(name: string, envPath: string | undefined = process.env.PATH): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(envPath ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function systemTestsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[REQUIRE_ENV];
  return v === '1' || v === 'true';
}

export interface SystemFacts {
  readonly root: boolean;
  readonly missingTools: readonly string[];
  readonly required: boolean;
}

/** The decision alone, separated from probing the machine so it can be tested without root. */
export function decideGate(req: SystemRequirements, facts: SystemFacts): GateResult {
  const unmet: string[] = [];
  if (req.root === true && !facts.root) unmet.push('needs root');
  if (facts.missingTools.length > 0) unmet.push(`missing tools: ${facts.missingTools.join(', ')}`);
  if (unmet.length === 0) return { skip: false };
  const reason = unmet.join('; ');
  if (facts.required) {
    const code = req.root === true && !facts.root ? 'EMULATION_NOT_ROOT' : 'EMULATION_MISSING_TOOL';
    throw new ScoreError(code, `${REQUIRE_ENV}=1 but system test requirements are unmet: ${reason}`, {
      missingTools: facts.missingTools,
      root: facts.root,
    });
  }
  return { skip: `system test skipped (${reason}; set ${REQUIRE_ENV}=1 to make this a failure)` };
}

/**
 * Skip reason for a system test, or `{ skip: false }` when it can run.
 * @throws ScoreError EMULATION_NOT_ROOT / EMULATION_MISSING_TOOL when `SCORE_REQUIRE_SYSTEM_TESTS=1`
 *   and a requirement is unmet, so the test file fails instead of skipping.
 */
export function systemTestGate(req: SystemRequirements, env: NodeJS.ProcessEnv = process.env): GateResult {
  const missingTools = (req.tools ?? []).filter((t) => findTool(t, env.PATH) === undefined);
  return decideGate(req, { root: isRoot(), missingTools, required: systemTestsRequired(env) });
}
