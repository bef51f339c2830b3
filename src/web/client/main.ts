import type { Cost, Hypervisor, MigrationRecord, NorthEvent, Orchestration, Topology } from '../../api/contract.ts';
import { ApiError, call, eventSource } from './api.ts';
import { renderLineChart } from './charts.ts';
import { byId, throttle } from './dom.ts';
import { formatPercent, linkLayerName } from './layout.ts';
import { isPending, renderLog, renderPlan } from './log.ts';
import { TopologyView } from './topology.ts';

/**
 * The live dashboard: reads the network once over the API, then follows the event stream.
 * `#app[data-state]` says where it is: need-token, connecting, live, refused, offline.
 */
const TOKEN_KEY = 'score.operatorToken';
const HISTORY = 3600;

type State = 'need-token' | 'connecting' | 'live' | 'refused' | 'offline';

const app = byId('app');
const notice = byId('notice');
const conn = byId('conn');
const tokenInput = byId<HTMLInputElement>('token');
const topology = new TopologyView(byId<SVGSVGElement>('topology'));

let token = '';
let events: EventSource | null = null;
/** the controller is a cluster member: events come from the leader's stream in etcd */
let cluster = false;
let history: Cost[] = [];
let records: MigrationRecord[] = [];
let orchestration: Orchestration | null = null;
let maxLayer = 3;
let capacity = 3;

function setState(s: State, message = ''): void {
  app.dataset.state = s;
  conn.dataset.state = s;
  conn.textContent = { 'need-token': 'no token', connecting: 'connecting…', live: 'live', refused: 'refused', offline: 'controller unreachable, retrying' }[s];
  const refused = byId('refused');
  refused.hidden = s !== 'refused';
  byId('refused-reason').textContent = message;
}

function say(text: string, error = false): void {
  notice.textContent = text;
  notice.classList.toggle('error', error);
}

/** A refused token is final until the operator types another; anything else is worth a retry. */
function refusal(e: unknown): string | null {
  if (!(e instanceof ApiError)) return null;
  if (e.status === 401) return `The controller refused this token (401 ${e.code}). Enter the operator token the controller printed at start.`;
  if (e.status === 403) return `This token may not run the dashboard (403 ${e.code}): it is an agent's credential; the dashboard needs the operator token.`;
  return null;
}

const api = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => call<T>(token, method, path, body);

async function loadTopology(): Promise<void> {
  const [t, hvs] = await Promise.all([api<Topology>('GET', '/topology'), api<Hypervisor[]>('GET', '/hypervisors')]);
  maxLayer = Math.max(1, ...t.links.map((l) => l.layer));
  capacity = Math.max(3, ...hvs.map((h) => h.capacity));
  topology.render(t, capacity);
  topology.setHosts(new Map(hvs.flatMap((h) => h.vms.map((vm): [string, string] => [vm, h.name]))));
  byId('counts').textContent = `${t.switches.filter((s) => s.kind === 'switch').length} switches, ${t.switches.filter((s) => s.kind === 'hypervisor').length} hypervisors, ${t.links.length} links, ${hvs.reduce((n, h) => n + h.vms.length, 0)} VMs`;
}

async function loadRecords(): Promise<void> {
  const [m, o] = await Promise.all([api<MigrationRecord[]>('GET', '/migrations'), api<Orchestration>('GET', '/orchestration')]);
  records = m;
  orchestration = o;
  renderRecords();
}

function renderRecords(): void {
  const busy = orchestration !== null && orchestration.state !== 'idle';
  renderLog(byId('log-body'), records);
  renderPlan(byId('plan-list'), records, busy);
  byId('pending-count').textContent = String(records.filter(isPending).length);
  const o = orchestration;
  byId('orch').textContent = o === null ? '' : `orchestration ${o.state}${o.policy ? ` (${o.policy}${o.plan ? ', plan' : ''})` : ''}, round ${o.round}, ${o.migrations} migration(s)${o.converged ? ', converged' : ''}${o.continuous ? `, continuous every ${o.continuous.everyMs / 1000} s (period ${o.continuous.period})${o.continuous.holdOff ? `, holding off: ${o.continuous.holdOff}` : ''}` : ''}${o.lastError ? `, error: ${o.lastError}` : ''}`;
  byId<HTMLButtonElement>('run').disabled = busy;
  byId<HTMLButtonElement>('plan').disabled = busy;
  byId<HTMLButtonElement>('stop').disabled = !busy;
}

function renderCharts(): void {
  const t0 = history[0]?.at ?? 0;
  const sec = (at: number): number => (at - t0) / 1000;
  const markers = records
    .filter((r) => r.status === 'succeeded' && r.finishedAt !== null)
    .map((r) => ({ x: sec(r.finishedAt!), label: `${r.id}: ${r.vm} ${r.from} → ${r.to ?? ''}` }));
  renderLineChart(byId<SVGSVGElement>('cost-chart'), [{ name: 'C_A', className: 's0', points: history.map((h) => ({ x: sec(h.at), y: h.cost })) }], {
    xLabel: 'time (s, controller clock)',
    yLabel: 'bytes/s × path weight',
    markers,
  });
  const layers = [...new Set(history.flatMap((h) => h.layers.map((l) => l.layer)))].sort((a, b) => a - b);
  renderLineChart(
    byId<SVGSVGElement>('util-chart'),
    layers.map((layer, i) => ({
      name: linkLayerName(layer, maxLayer),
      className: `s${i}`,
      points: history.flatMap((h) => h.layers.filter((l) => l.layer === layer).map((l) => ({ x: sec(h.at), y: l.meanUtilisation }))),
    })),
    { xLabel: 'time (s, controller clock)', yLabel: 'mean utilisation of links with traffic', yFormat: formatPercent, markers },
  );
  const last = history.at(-1);
  byId('cost-now').textContent = last === undefined ? '' : `now ${Math.round(last.cost)}`;
}

const refreshTopology = throttle(() => void loadTopology().catch(onError), 1000);
const refreshRecords = throttle(() => void loadRecords().catch(onError), 150);
const redrawCharts = throttle(renderCharts, 250);

function onEvent(e: NorthEvent): void {
  switch (e.type) {
    case 'cost':
      // a replayed sample (cluster stream after a reconnect) that loadAll already brought
      if (history.length > 0 && e.at <= history[history.length - 1]!.at) break;
      history.push({ at: e.at, cost: e.data.cost as number, layers: e.data.layers as Cost['layers'] });
      if (history.length > HISTORY) history = history.slice(-HISTORY);
      redrawCharts();
      // link rates change with every statistics round; the cost sample follows each round
      refreshTopology();
      break;
    case 'vm-moved':
      topology.moveVm(String(e.data.vm), String(e.data.to));
      break;
    case 'host-added':
      topology.moveVm(String(e.data.vm), String(e.data.hypervisor));
      break;
    case 'link-added':
    case 'link-removed':
    case 'weight-changed':
      refreshTopology();
      break;
    case 'migration-started':
    case 'migration-finished':
    case 'orchestration':
    case 'plan-reviewed':
      refreshRecords();
      break;
  }
}

function onError(e: unknown): void {
  const why = refusal(e);
  if (why !== null) {
    disconnect();
    setState('refused', why);
    return;
  }
  say(e instanceof Error ? e.message : String(e), true);
}

function disconnect(): void {
  events?.close();
  events = null;
}

function subscribe(): void {
  disconnect();
  const es = eventSource(token, cluster);
  events = es;
  let opened = false;
  es.onopen = () => {
    // After a reconnect, what happened meanwhile is read from the routes (in cluster mode the
    // member also replays it from Last-Event-ID; onEvent drops cost samples it already has).
    if (opened) void loadAll().catch(onError);
    opened = true;
    setState('live');
  };
  for (const type of ['cost', 'vm-moved', 'host-added', 'link-added', 'link-removed', 'weight-changed', 'migration-started', 'migration-finished', 'orchestration', 'plan-reviewed']) {
    es.addEventListener(type, (m: MessageEvent<string>) => {
      try {
        onEvent(JSON.parse(m.data) as NorthEvent);
      } catch (err) {
        say(`bad event: ${String(err)}`, true);
      }
    });
  }
  es.onerror = () => {
    if (events !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      // EventSource gives up on an HTTP error (a 401 after a controller restart with new tokens):
      // ask the API why, then retry or show the refusal.
      setState('offline');
      window.setTimeout(() => void connect(), 2000);
    } else {
      setState('offline');
    }
  };
}

async function loadAll(): Promise<void> {
  const [, h] = await Promise.all([loadTopology(), api<Cost[]>('GET', '/cost/history'), loadRecords()]);
  history = h.slice(-HISTORY);
  renderCharts();
}

/** `GET /cluster` answers only in cluster mode (404 otherwise). */
async function isClusterMember(): Promise<boolean> {
  try {
    await api<unknown>('GET', '/cluster');
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
}

async function connect(): Promise<void> {
  if (token === '') {
    setState('need-token');
    return;
  }
  setState('connecting');
  try {
    // An operator-only route: the agent token must be refused here, not halfway through loading.
    await api<Orchestration>('GET', '/orchestration');
    cluster = await isClusterMember();
    await loadAll();
    subscribe();
  } catch (e) {
    const why = refusal(e);
    if (why !== null) {
      disconnect();
      setState('refused', why);
    } else {
      setState('offline');
      say(e instanceof Error ? e.message : String(e), true);
      window.setTimeout(() => void connect(), 3000);
    }
  }
}

function useToken(t: string): void {
  token = t.trim();
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  disconnect();
  void connect();
}

async function act(f: () => Promise<unknown>, done: string): Promise<void> {
  try {
    await f();
    say(done);
    await loadRecords();
  } catch (e) {
    if (refusal(e) !== null) onError(e);
    else say(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e), true);
  }
}

function start(plan: boolean): Promise<void> {
  const policy = byId<HTMLSelectElement>('policy').value;
  const mode = byId<HTMLSelectElement>('mode').value;
  return act(() => api('POST', '/orchestration/start', { policy, mode, plan }), plan ? 'plan requested: review the proposed moves below' : 'orchestration started');
}

byId<HTMLFormElement>('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  useToken(tokenInput.value);
  tokenInput.value = '';
});
byId('forget').addEventListener('click', () => useToken(''));
byId('run').addEventListener('click', () => void start(false));
byId('plan').addEventListener('click', () => void start(true));
byId('stop').addEventListener('click', () => void act(() => api('POST', '/orchestration/stop'), 'stopping after the current migration'));
byId('plan-list').addEventListener('click', (e) => {
  const b = (e.target as Element).closest('button[data-action]');
  if (!(b instanceof HTMLButtonElement)) return;
  const id = b.dataset.id ?? '';
  const action = b.dataset.action === 'approve' ? 'approve' : 'skip';
  void act(() => api('POST', `/migrations/${encodeURIComponent(id)}/${action}`), action === 'approve' ? `${id} approved: migrating` : `${id} skipped`);
});

// A link may carry the token in its fragment (never sent to the server); keep it for this tab
// only and take it out of the address bar and history.
const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash)?.[1];
if (fromHash !== undefined) {
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash));
  window.history.replaceState(null, '', location.pathname + location.search);
}
token = sessionStorage.getItem(TOKEN_KEY) ?? '';
void connect();
