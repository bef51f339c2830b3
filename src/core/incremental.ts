/**
 * Incremental re-planning for continuous orchestration (issue #12): the public entry. The planner
 * lives in `incremental/`, one concern per file:
 *  - `planner.ts`: IncrementalPlanner (state kept between periods, traffic changes, the asks'
 *    numeric decisions and the plan loop; its module comment states why the plan is exact);
 *  - `rows.ts`: the per-VM traffic rows (CSR with slack);
 *  - `move-log.ts`: what each move's decision saw, and the records built from it when read;
 *  - `placement-view.ts`: a plan's final placement as a read-only map;
 *  - `orders.ts`: the order in which a round asks (Round-Robin, Load-Aware) and the "asked
 *    already" test for VMs outside the round.
 */
export { IncrementalPlanner, type IncrementalInput, type PairRate, type PlanOptions } from './incremental/planner.ts';
