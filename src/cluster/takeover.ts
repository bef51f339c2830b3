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
 * Deletes never precede the new rules. Every write goes through the fenced channel, so a member
 * that lost its leadership meanwhile changes nothing (and the switches refuse it anyway). A switch
 * handed over later in the term (reconnected) gets step 3 after the runtime re-installed its
 * paths on it. Before this, a new leader deleted every path rule as it took a switch and
 * re-learned every pair from packet-ins: a pair could go silent for over a second.
 */
import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import { GENERATION_COOKIE_MASK, PATH_COOKIE_TAG, PATH_COOKIE_TAG_MASK, generationCookie, slotOfCookie } from '../controller/commands.ts';
import type { CookieFilter } from '../runtime/dataplane.ts';

/**
 * The flow-statistics filter of the read before the deletes: S-CORE's path rules only (cookie and
 * cookie_mask of a multipart FLOW request, OpenFlow 1.3.5 sections 7.3.5.2 and 7.3.4.1), so the
 * switch sends those and not its whole table (another application's rules, the table-miss).
 */
export const PATH_RULES_FILTER: CookieFilter = { cookie: PATH_COOKIE_TAG, cookieMask: PATH_COOKIE_TAG_MASK };

/**
 * Pure: the deletes that clear every generation other than `ownSlot` from a switch whose path
 * rules carry `cookies` (one delete per generation found, by cookie and mask). Other cookies
 * (the table-miss rule's 0, anyone else's) are left alone.
 */
export function staleGenerationDeletes(dpid: Dpid, cookies: Iterable<bigint>, ownSlot: bigint): SwitchCommand[] {
  const slots = new Set<bigint>();
  for (const c of cookies) {
    const s = slotOfCookie(c);
    if (s !== null && s !== ownSlot) slots.add(s);
  }
  return [...slots]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((s) => ({ kind: 'flow-delete', dpid, cookie: generationCookie(s), cookieMask: GENERATION_COOKIE_MASK }));
}

/** What a takeover does to the world: injected, so the order of its steps is testable. */
export interface TakeoverEffects {
  /** still the leader of the term this takeover is for */
  isLeader(): boolean;
  /** resolves once the leader holds the previous leader's switches and links again, or its bound passed */
  caughtUp(): Promise<void>;
  /** places the view's quiet hosts and installs this leader's path for each of the view's pairs; the cookies to wait for */
  installPaths(): { readonly cookies: readonly bigint[]; readonly pairs: number };
  /** resolves true once every one of these cookies is confirmed by the switches, false at the bound */
  confirmed(cookies: readonly bigint[]): Promise<boolean>;
  /** the switches handed to the runtime now */
  switches(): Dpid[];
  /** a barrier on the switch (its reply means every earlier message was applied) */
  barrier(dpid: Dpid): Promise<void>;
  /** the cookies of the rules the switch holds that match `filter` (flow statistics, filtered by the switch) */
  pathCookies(dpid: Dpid, filter: CookieFilter): Promise<bigint[]>;
  /** sends through the fenced channel (throws once this member is not the leader) */
  send(dpid: Dpid, commands: readonly SwitchCommand[]): void;
  log(level: 'info' | 'warn', message: string): void;
}

export interface TakeoverReport {
  readonly pairs: number;
  /** the new paths were all confirmed before the old generations were deleted (else the bound passed) */
  readonly confirmed: boolean;
  /** switches cleaned, and generation deletes sent */
  readonly switches: number;
  readonly deletes: number;
  /** not completed: no longer leader */
  readonly abandoned: boolean;
}

/**
 * Step 3 on one switch: barrier, read the generations it holds, delete the older ones. Returns
 * the number of deletes sent. A failure (switch gone, fenced) deletes nothing more.
 */
export async function cleanSwitch(e: TakeoverEffects, dpid: Dpid, ownSlot: bigint): Promise<number> {
  await e.barrier(dpid);
  if (!e.isLeader()) return 0;
  const deletes = staleGenerationDeletes(dpid, await e.pathCookies(dpid, PATH_RULES_FILTER), ownSlot);
  if (deletes.length === 0 || !e.isLeader()) return 0;
  e.send(dpid, deletes);
  return deletes.length;
}

/** Steps 1–3 at an election (module comment). */
export async function runTakeover(e: TakeoverEffects, ownSlot: bigint): Promise<TakeoverReport> {
  const abandoned = (pairs: number, confirmed: boolean): TakeoverReport => ({ pairs, confirmed, switches: 0, deletes: 0, abandoned: true });
  await e.caughtUp();
  if (!e.isLeader()) return abandoned(0, false);
  const { cookies, pairs } = e.installPaths();
  const confirmed = await e.confirmed(cookies);
  if (!e.isLeader()) return abandoned(pairs, confirmed);
  if (!confirmed) e.log('warn', `cluster takeover: not every path of the previous leader's ${pairs} pairs was confirmed in time; deleting the older generations anyway`);
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
  return { pairs, confirmed, switches, deletes, abandoned: !e.isLeader() };
}
