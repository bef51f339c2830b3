// The Grafana dashboard (deploy/grafana-dashboard.json) only asks for metrics S-CORE exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createStackMetrics } from '../metrics/metrics.ts';
import { realClock } from '../runtime/clock.ts';
import { registerClusterMetrics } from './metrics.ts';
import type { ClusterMember } from './member.ts';
import type { ClusterDataPlane } from './role-plane.ts';

test('every metric in the Grafana dashboard is registered (stack metrics + cluster metrics)', async () => {
  const dash = JSON.parse(readFileSync(new URL('../../deploy/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const used = new Set<string>();
  for (const p of dash.panels) for (const t of p.targets) for (const m of t.expr.matchAll(/\bscore_[a-z_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  assert.ok(used.has('score_cluster_is_leader') && used.has('score_cluster_term') && used.has('score_cluster_failovers'), 'leader, term and failovers are on the dashboard');
  const metrics = createStackMetrics({ clock: realClock });
  const member = { role: 'leader', leader: { id: 'a', generation: 12n }, failovers: 2 } as unknown as ClusterMember;
  const plane = { switchesView: () => [{ dpid: '1', role: 'MASTER', ports: 2, active: true }] } as unknown as ClusterDataPlane;
  registerClusterMetrics(metrics.registry, member, plane);
  const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  const missing = [...used].filter((n) => !registered.has(n));
  assert.deepEqual(missing, []);
  const text = await metrics.registry.metrics();
  assert.match(text, /score_cluster_is_leader 1/);
  assert.match(text, /score_cluster_term 12/);
  assert.match(text, /score_cluster_switch_role\{role="MASTER"\} 1/);
});
