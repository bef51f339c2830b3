/**
 * Make before break when a new leader takes the switches over.
 *
 * Every path rule's cookie names the generation of the leader that installed it
 * (controller/commands.ts pathCookie: tag | generation slot | path id). A new leader does not
 * clear the switches when it becomes MASTER (controller option `keepPathRules`): its
 * predecessor's rules go on forwarding. Once it holds the previous leader's switches and links
 * again (readiness), it
 *
 * 1. places the hosts of the previous leader's published view it has not re-learned, and installs
 *    its own path for every direction that view lists (`pairs`): where the new rule has the old
 *    one's match and priority it replaces it in place (OpenFlow 1.3.5 section 6.4);
 * 2. waits until the switches confirmed those rules (a barrier after them: install-tracker.ts);
 * 3. then, on each switch: a barrier (every flow-mod sent before it is applied, section 6.2),
 *    reads which generations' path rules the switch still holds (flow statistics filtered by the
 *    path tag), and deletes each older generation by cookie and mask (OFPFC_DELETE,
 *    cookie_mask = tag | generation bits, section 7.3.4.1 / A.3.4.1).
 *
 * A new path a switch refused is taken out of every switch (controller.ts flowRejected). Its
 * rules have the old ones' match and priority, so every switch that accepted them had already
 * replaced the old rule in place: the old rules of that direction cannot be "kept" as a working
 * path (the first hops are gone either way). The refused directions are only named in the log:
 * their packets go to the controller (slow path) until the retry lands; the older generations are
 * deleted as a whole.
 *
 * Deletes never precede the new rules. Every write goes through the fenced channel, so a member
 * that lost its leadership meanwhile changes nothing (and the switches refuse it anyway). A switch
 * handed over later in the term (reconnected) gets step 3 once its links are back and the paths
 * through it confirmed (cleanLateSwitch). Before this, a new leader deleted every path rule as it took a switch and
 * re-learned every pair from packet-ins: a pair could go silent for over a second.
 */
import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import type { PathStatus } from '../controller/controller.ts';
import { GENERATION_COOKIE_MASK, PATH_COOKIE_TAG, PATH_COOKIE_TAG_MASK, generationCookie, slotOfCookie } from '../controller/commands.ts';
import type { CookieFilter } from '../runtime/dataplane.ts';

/**
 * The flow-statistics filter of the read before the deletes: S-CORE's path rules only (cookie and
 * cookie_mask of a multipart FLOW request, OpenFlow 1.3.5 sections 7.3.5.2 and 7.3.4.1), so the
 * switch sends those and not its whole table (another application's rules, the table-miss).
 */
export const PATH_RULES_FILTER: CookieFilter = { cookie: PATH_COOKIE_TAG, cookieMask: PATH_COOKIE_TAG_MASK };

/**
 * A path rule as the switch reports it (flow statistics): its cookie, all the cleaning reads (the
 * generation is in the cookie; older generations go by cookie and mask, never per direction).
 */
export interface HeldRule {
  readonly cookie: bigint;
}

/** The key of a direction (as routing.ts pairKey), MACs in lower case. */
export const directionKey = (src: string, dst: string): string => `${src.toLowerCase()}>${dst.toLowerCase()}`;

/**
 * Pure: the deletes that clear every generation other than `ownSlot` from a switch holding
 * `rules`: one delete per generation found, by cookie and mask (cookie_mask = tag | generation
 * bits). Other cookies (the table-miss rule's 0, anyone else's) are left alone.
 */
export function staleGenerationDeletes(dpid: Dpid, rules: Iterable<HeldRule>, ownSlot: bigint): SwitchCommand[] {
  const slots = new Set<bigint>();
  for (const r of rules) {
    const s = slotOfCookie(r.cookie);
    if (s !== null && s !== ownSlot) slots.add(s);
  }
  const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...slots].sort(cmp).map((s) => ({ kind: 'flow-delete', dpid, cookie: generationCookie(s), cookieMask: GENERATION_COOKIE_MASK }));
}

/** A path the takeover installed for one of the previous leader's directions. */
export interface RoutedPath {
  readonly src: string;
  readonly dst: string;
  readonly cookie: bigint;
}

/** What a takeover does to the world: injected, so the order of its steps is testable. */
export interface TakeoverEffects {
  /** still the leader of the term this takeover is for */
  isLeader(): boolean;
  /** resolves once the leader holds the previous leader's switches and links again, or its bound passed */
  caughtUp(): Promise<void>;
  /**
   * places the view's quiet hosts and installs this leader's path for each of the view's pairs;
   * the paths to wait for, and whether the previous leader's view was read (false: the store did
   * not answer, so which directions its rules forward is unknown; not false when none was published)
   */
  installPaths(): { readonly paths: readonly RoutedPath[]; readonly pairs: number; readonly viewRead: boolean };
  /**
   * resolves once no path is pending any more or the bound passed: each path's status then, by
   * cookie (controller.ts pathStatus)
   */
  confirmed(paths: readonly RoutedPath[]): Promise<ReadonlyMap<bigint, PathStatus>>;
  /**
   * the switches handed to the runtime now; from here on a switch handed over later in the term
   * is cleaned as it comes (cleanLateSwitch)
   */
  switches(): Dpid[];
  /**
   * a switch handed over later in the term: resolves once its links are discovered again and the
   * paths through it are confirmed, or the bounds passed (its rules are not cleaned before: they
   * are what forwards through it until its links and paths are back)
   */
  switchSettled(dpid: Dpid): Promise<void>;
  /** a barrier on the switch (its reply means every earlier message was applied) */
  barrier(dpid: Dpid): Promise<void>;
  /** the rules the switch holds that match `filter` (flow statistics, filtered by the switch) */
  pathRules(dpid: Dpid, filter: CookieFilter): Promise<HeldRule[]>;
  /** sends through the fenced channel (throws once this member is not the leader) */
  send(dpid: Dpid, commands: readonly SwitchCommand[]): void;
  log(level: 'info' | 'warn', message: string): void;
}

export interface TakeoverReport {
  readonly pairs: number;
  /** the new paths were all confirmed before the old generations were deleted (else the bound passed, or some were lost) */
  readonly confirmed: boolean;
  /**
   * directions (directionKey) whose new path a switch refused: their packets go to the controller
   * until the retry lands (their old rules were replaced in place on the hops that accepted)
   */
  readonly refused: readonly string[];
  /** switches cleaned, and generation deletes sent */
  readonly switches: number;
  readonly deletes: number;
  /** not completed: no longer leader */
  readonly abandoned: boolean;
  /**
   * the previous leader's view was read (or none was published); false: it could not be read, so
   * no older generation was deleted this term (its rules age out by their idle timeout)
   */
  readonly viewRead: boolean;
}

/**
 * Step 3 on one switch: barrier, read the path rules it holds, delete the older generations'.
 * Returns the number of deletes sent. A failure
 * (switch gone, fenced) deletes nothing more.
 */
export async function cleanSwitch(e: TakeoverEffects, dpid: Dpid, ownSlot: bigint): Promise<number> {
  await e.barrier(dpid);
  if (!e.isLeader()) return 0;
  const deletes = staleGenerationDeletes(dpid, await e.pathRules(dpid, PATH_RULES_FILTER), ownSlot);
  if (deletes.length === 0 || !e.isLeader()) return 0;
  e.send(dpid, deletes);
  return deletes.length;
}

/**
 * A switch handed over later in the term (it reconnected): make before break for it too. Its
 * links are re-found and the paths through it re-installed and confirmed first (switchSettled),
 * then step 3. Cleaning it at once deleted the previous generation's rules while this leader had
 * none there yet: its traffic went to the controller until its links were discovered again.
 */
export async function cleanLateSwitch(e: TakeoverEffects, dpid: Dpid, ownSlot: bigint): Promise<number> {
  await e.switchSettled(dpid);
  if (!e.isLeader()) return 0;
  return cleanSwitch(e, dpid, ownSlot);
}

/** Steps 1–3 at an election (module comment). */
export async function runTakeover(e: TakeoverEffects, ownSlot: bigint): Promise<TakeoverReport> {
  let viewRead = true;
  const abandoned = (pairs: number, confirmed: boolean, refused: readonly string[] = []): TakeoverReport => ({ pairs, confirmed, refused, switches: 0, deletes: 0, abandoned: true, viewRead });
  await e.caughtUp();
  if (!e.isLeader()) return abandoned(0, false);
  const installed = e.installPaths();
  const { paths, pairs } = installed;
  viewRead = installed.viewRead;
  const status = await e.confirmed(paths);
  const refusedPaths: { p: RoutedPath; by: Dpid | undefined }[] = [];
  let pending = 0;
  for (const p of paths) {
    const st = status.get(p.cookie);
    if (st?.state === 'refused') refusedPaths.push({ p, by: st.by });
    else if (st === undefined || st.state === 'pending') pending += 1;
  }
  const refused = refusedPaths.map(({ p }) => directionKey(p.src, p.dst));
  const confirmed = refusedPaths.length === 0 && pending === 0;
  if (!e.isLeader()) return abandoned(pairs, confirmed, refused);
  if (!viewRead) {
    // deleting them would silence every direction the predecessor routed until re-learned
    e.log('warn', "cluster takeover: the previous leader's view was not read: its directions are unknown, so no older generation is deleted this term (those rules age out by their idle timeout)");
    return { pairs, confirmed, refused, switches: 0, deletes: 0, abandoned: false, viewRead };
  }
  if (pending > 0) e.log('warn', `cluster takeover: ${pending} of the previous leader's ${pairs} pairs were not confirmed in time; deleting their older generations anyway`);
  if (refusedPaths.length > 0) {
    const by = (d: Dpid | undefined): string => (d === undefined ? 'a switch' : `switch ${d.toString(16)}`);
    const some = refusedPaths.slice(0, 10).map(({ p, by: d }) => `${p.src} -> ${p.dst} refused by ${by(d)}`).join(', ');
    e.log(
      'warn',
      `cluster takeover: ${refusedPaths.length} new paths refused: these directions go to the controller (slow path) until the retry lands (${some}${refusedPaths.length > 10 ? ', ...' : ''})`,
    );
  }
  let switches = 0;
  let deletes = 0;
  await Promise.all(
    e.switches().map(async (dpid) => {
      try {
        const sent = await cleanSwitch(e, dpid, ownSlot); // awaited first: `deletes += await` would lose concurrent counts
        deletes += sent;
        switches += 1;
      } catch (err) {
        e.log('warn', `cluster takeover: switch ${dpid.toString(16)} not cleaned of older generations: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  return { pairs, confirmed, refused, switches, deletes, abandoned: !e.isLeader(), viewRead };
}

/** What `switchSettled` looks at: injected, so its waits are testable with a fake clock. */
export interface SettleProbe {
  isLeader(): boolean;
  /** the switch is still connected to this leader's runtime */
  present(): boolean;
  /** its links discovered now */
  links(): number;
  /** the links it had when last seen with some this term (0: it never had any) */
  linksSeen: number;
  /** a path through it waits for its confirmation */
  pathsPending(): boolean;
  now(): number;
  sleep(ms: number): Promise<void>;
  log(level: 'info' | 'warn', message: string): void;
}

/**
 * TakeoverEffects.switchSettled: waits (each wait bounded) for a switch handed over again to have
 * its links back (as many as it had when last seen this term: a switch that never had a link, a
 * host-only switch or one first seen now, waits for none) and then for the paths through it to be
 * confirmed. Warns when the links did not all come back in `linksMs`.
 */
export async function settleSwitch(dpid: Dpid, p: SettleProbe, linksMs: number, pathsMs: number): Promise<void> {
  const want = p.linksSeen;
  const linksEnd = p.now() + linksMs;
  while (p.isLeader() && p.present() && p.links() < want && p.now() < linksEnd) await p.sleep(50);
  const pathsEnd = p.now() + pathsMs;
  while (p.isLeader() && p.pathsPending() && p.now() < pathsEnd) await p.sleep(50);
  if (p.links() < want) p.log('warn', `cluster: switch ${dpid.toString(16)} handed over again has ${p.links()} of its ${want} links after ${linksMs} ms; cleaning its older generations now`);
}
