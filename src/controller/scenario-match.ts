/**
 * Do the connected switches belong to the scenario the controller was given? A Mininet tree
 * beside `--scenario paper` connects switches with dpids 1, 2, 3 while the scenario expects
 * 0x0b01, 0x0116, ...: nothing gets a name, no hypervisor is known, no host is learned, and
 * without a word the user cannot tell why (issue 15). Pure: dpids in, findings out.
 */
import { formatDpid, type Dpid } from './commands.ts';

export interface ScenarioMatch {
  /** connected switches the scenario does not have */
  readonly strangers: readonly Dpid[];
  /** scenario switches (name, dpid) that are not connected */
  readonly missing: readonly { readonly name: string; readonly dpid: Dpid }[];
}

/** `expected`: scenario name -> dpid (scenarioDpids); `connected`: dpids up now. */
export function matchScenario(expected: ReadonlyMap<string, Dpid>, connected: Iterable<Dpid>): ScenarioMatch {
  const up = new Set(connected);
  const known = new Set(expected.values());
  return {
    strangers: [...up].filter((d) => !known.has(d)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    missing: [...expected].filter(([, d]) => !up.has(d)).map(([name, dpid]) => ({ name, dpid })),
  };
}

const list = (items: readonly string[], max = 6): string => (items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', '));

/** One switch that connected but is not in the scenario, naming what the scenario expects. */
export function strangerWarning(scenario: string, dpid: Dpid, expected: ReadonlyMap<string, Dpid>): string {
  return (
    `switch ${formatDpid(dpid)} is not in scenario ${scenario}, which expects ${list([...expected].map(([n, d]) => `${n} (${formatDpid(d)})`))}: ` +
    'it gets no name, its hosts no hypervisor and its links are refused (undeclared). Give the switches the scenario\'s datapath ids, or run without --scenario'
  );
}

/** After the grace period: the scenario's switches that never connected, and who did instead. */
export function missingWarning(scenario: string, m: ScenarioMatch, total: number): string | null {
  if (m.missing.length === 0) return null;
  const strangers = m.strangers.length === 0 ? 'no other switch connected' : `connected instead: ${list(m.strangers.map(formatDpid))}`;
  return `${m.missing.length} of ${total} switches of scenario ${scenario} are not connected: ${list(m.missing.map((s) => `${s.name} (${formatDpid(s.dpid)})`))}; ${strangers}`;
}
