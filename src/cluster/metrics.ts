/**
 * Cluster gauges on a stack's Prometheus registry (read at scrape time):
 *   score_cluster_is_leader            1 on the leader, 0 elsewhere
 *   score_cluster_term                 generation id of the leader this member sees (its term)
 *   score_cluster_failovers            leader changes this member has observed since it started
 *   score_cluster_switch_role{role}    connected switches by this controller's role on them
 */
import { Gauge, type Registry } from 'prom-client';
import type { ClusterDataPlane } from './role-plane.ts';
import type { ClusterMember } from './member.ts';

export function registerClusterMetrics(registry: Registry, member: ClusterMember, plane: ClusterDataPlane): void {
  const registers = [registry];
  new Gauge({
    name: 'score_cluster_is_leader',
    help: '1 when this controller is the cluster leader (MASTER on its switches), else 0',
    registers,
    collect() {
      this.set(member.role === 'leader' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'score_cluster_term',
    help: 'Generation id (etcd election key create revision) of the current leader',
    registers,
    collect() {
      this.set(Number(member.leader?.generation ?? 0n));
    },
  });
  new Gauge({
    name: 'score_cluster_failovers',
    help: 'Leader changes observed by this controller since it started',
    registers,
    collect() {
      this.set(member.failovers);
    },
  });
  new Gauge({
    name: 'score_cluster_switch_role',
    help: 'Connected switches by this controller\'s OpenFlow role on them',
    labelNames: ['role'],
    registers,
    collect() {
      const counts: Record<string, number> = { MASTER: 0, SLAVE: 0, EQUAL: 0 };
      for (const s of plane.switchesView()) counts[s.role] = (counts[s.role] ?? 0) + 1;
      for (const [role, n] of Object.entries(counts)) this.set({ role }, n);
    },
  });
}
