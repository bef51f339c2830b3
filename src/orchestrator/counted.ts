/**
 * Which succeeded migrations a run has counted, kept small (RunProgress.counted / countedThrough).
 *
 * A new cluster leader continues the run from the stored progress and counts every succeeded
 * record of the run the progress does not count yet (cluster/orchestration.ts `resumeOptions`).
 * Listing every counted id grew without bound in a long continuous run (each progress write
 * carried all of them, and past ~100k migrations the value would pass etcd's 1.5 MiB request
 * limit). Only the newest ids are listed; the older ones are summed up by `through`, the latest
 * id among those dropped.
 *
 * Why a single id can stand for all older ones: record ids are `g<generation>-m<seq>` in a cluster
 * (`m<seq>` on a single controller), and that order is the order records were opened: the
 * generation only grows from leader to leader, and `seq` within an orchestrator. The orchestrator
 * runs one migration at a time and counts a record after it finished and before the next one opens,
 * except the legs of an exchange or look-ahead action (counted together once the action ends) and
 * a timed-out migration confirmed late (counted when the network sees it arrive); a new leader
 * counts its predecessor's missed records before it opens any. Ids are summed up only when listed
 * (so counted) and never at or past a record that may still become countable (`notFrom`: the
 * watched timeouts); legs are appended together. So "every countable record at or before `through`
 * is counted" holds. Ids that do not have the form are never summed up (kept listed).
 */

/** listed ids kept after a prune; pruning starts at twice this many */
export const COUNTED_KEEP = 512;

/** `[generation, seq]` of a record id (`g12-m345` or `m345`, generation 0); null for any other id */
export function recordOrder(id: string): readonly [bigint, number] | null {
  const m = /^(?:g(\d+)-)?m(\d+)$/.exec(id);
  if (m === null) return null;
  return [BigInt(m[1] ?? '0'), Number(m[2])];
}

/** negative, 0 or positive as record `a` was opened before, with or after `b` (both parsed) */
function compareOrder(a: readonly [bigint, number], b: readonly [bigint, number]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

/** Whether the record `id` is counted by a progress listing `ids` and summing up to `through`. */
export function isCounted(ids: ReadonlySet<string>, through: string | undefined, id: string): boolean {
  if (ids.has(id)) return true;
  if (through === undefined) return false;
  const t = recordOrder(through);
  const o = recordOrder(id);
  return t !== null && o !== null && compareOrder(o, t) <= 0;
}

/**
 * The counted set after counting more ids (pure): `ids` in counting order. Once more than
 * 2 × `keep` are listed, the oldest listed ids beyond the newest `keep` are summed into `through`
 * (the latest of them and the old `through`), as long as every one of them has the record id form
 * (otherwise nothing is dropped). `notFrom`: ids of records that may still become countable later
 * (a timed-out migration the network may yet see arrive); no id at or after the earliest of them
 * is summed up, so such a record is never taken for counted before it is.
 */
export function pruneCounted(ids: readonly string[], through: string | undefined, keep = COUNTED_KEEP, notFrom: readonly string[] = []): { ids: string[]; through: string | undefined } {
  if (ids.length <= 2 * keep) return { ids: [...ids], through };
  const unchanged = { ids: [...ids], through };
  let limit: readonly [bigint, number] | null = null;
  for (const id of notFrom) {
    const o = recordOrder(id);
    if (o === null) return unchanged;
    if (limit === null || compareOrder(o, limit) < 0) limit = o;
  }
  let latest = through === undefined ? null : recordOrder(through);
  if (through !== undefined && latest === null) return unchanged;
  let latestId = through;
  const kept: string[] = [];
  for (const [i, id] of ids.entries()) {
    const o = recordOrder(id);
    if (o === null) return unchanged;
    if (i >= ids.length - keep || (limit !== null && compareOrder(o, limit) >= 0)) {
      kept.push(id);
      continue;
    }
    if (latest === null || compareOrder(o, latest) > 0) {
      latest = o;
      latestId = id;
    }
  }
  return { ids: kept, through: latestId };
}

/** sort comparator: records opened earlier first (ids without the record id form keep their place) */
export function byOpening(a: string, b: string): number {
  const x = recordOrder(a);
  const y = recordOrder(b);
  return x === null || y === null ? 0 : compareOrder(x, y);
}

/**
 * Whether record `id` belongs to a run (pure): at or after the run's first id `sinceId` in id
 * order; when either id has no record id form, by the clock (`startedAt` >= `since`, ms).
 */
export function inRun(id: string, startedAt: number, sinceId: string | undefined, since: number): boolean {
  const o = recordOrder(id);
  const first = sinceId === undefined ? null : recordOrder(sinceId);
  return o !== null && first !== null ? compareOrder(o, first) >= 0 : startedAt >= since;
}
