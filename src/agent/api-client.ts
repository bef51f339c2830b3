import type { AgentRegistered, CostMatrix, Host, Hypervisor, VmTraffic } from '../api/contract.ts';
import { ScoreError, ERROR_CODES, type ErrorCode } from '../errors/errors.ts';

/** The agent's view of the controller's northbound API (real HTTP, bearer token). */
export interface ControllerApi {
  vmTraffic(vm: string): Promise<VmTraffic>;
  costMatrix(): Promise<CostMatrix>;
  hypervisors(): Promise<Hypervisor[]>;
  /** answers with the verifier of the controller's calls to this agent (null: none configured) */
  register(hypervisor: string, url: string): Promise<AgentRegistered>;
  migrationDone(vm: string, hypervisor: string, migrationId: string, port?: number): Promise<Host>;
  /**
   * Whether a controller leader can re-route a VM now (`GET /api/v1/cluster/ready`, answered by
   * the leader through any member). `cluster: false`: the controller is not a cluster (the route
   * does not exist there). Not ready when no leader answers (an election under way, a member
   * refusing agent credentials meanwhile, the leader unreachable). Which of the two the
   * controller is, is learned from its first definite answer (404 or a JSON answer) and kept: a
   * failed request (network error, 401, 5xx) is "not ready" for a cluster, or one seen as neither
   * yet, and "not a cluster" for a single controller.
   */
  controlReady?(): Promise<ControlReadiness>;
}

export interface ControlReadiness {
  readonly cluster: boolean;
  readonly ready: boolean;
  readonly reason: string;
}

export function controllerApi(baseUrl: string, token: string, timeoutMs = 5000): ControllerApi {
  const base = baseUrl.replace(/\/+$/, '');
  let mode: 'cluster' | 'single' | undefined;
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new ScoreError('CONTROLLER_UNREACHABLE', `controller API ${method} ${path} unreachable: ${e instanceof Error ? e.message : String(e)}`, { path }, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let code: ErrorCode = 'INTERNAL';
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.code && parsed.error.code in ERROR_CODES) code = parsed.error.code as ErrorCode;
        message = parsed.error?.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new ScoreError(code, `controller API ${method} ${path}: ${res.status} ${message}`, { status: res.status, path });
    }
    return JSON.parse(text) as T;
  }
  return {
    vmTraffic: (vm) => call('GET', `/vms/${encodeURIComponent(vm)}/traffic`),
    costMatrix: () => call('GET', '/paths/matrix'),
    hypervisors: () => call('GET', '/hypervisors'),
    register: (hypervisor, url) => call('POST', '/agents/register', { hypervisor, url }),
    migrationDone: (vm, hypervisor, migrationId, port) => call('POST', '/agents/migration-done', { vm, hypervisor, migrationId, ...(port !== undefined ? { port } : {}) }),
    async controlReady() {
      // Cluster or single controller is learned from the first definite answer (a 404: no cluster
      // API; a JSON answer: a cluster) and kept: a single controller briefly unreachable or
      // failing then does not hold the move back (its real errors show in the reports that follow).
      const unsure = (reason: string): ControlReadiness => (mode === 'single' ? { cluster: false, ready: true, reason: `single controller (${reason})` } : { cluster: true, ready: false, reason });
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${base}/api/v1/cluster/ready`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(Math.min(timeoutMs, 2000)) });
        text = await res.text();
      } catch (e) {
        return unsure(`controller unreachable: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (res.status === 404) {
        mode = 'single';
        return { cluster: false, ready: true, reason: 'not a cluster' };
      }
      if (!res.ok) return unsure(`${res.status} ${text.slice(0, 200)}`);
      try {
        const r = JSON.parse(text) as { ready?: unknown; reason?: unknown };
        mode = 'cluster';
        return { cluster: true, ready: r.ready === true, reason: typeof r.reason === 'string' ? r.reason : '' };
      } catch {
        return unsure(`not JSON: ${text.slice(0, 200)}`);
      }
    },
  };
}
