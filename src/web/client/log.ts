import type { MigrationRecord } from '../../api/contract.ts';
import { html } from './dom.ts';
import { figuresLine, formatNumber } from './layout.ts';

const SHOWN = 200;

const cost = (v: number | null): string => (v === null ? '–' : formatNumber(v));

function candidatesTable(r: MigrationRecord): HTMLElement {
  const d = r.decision;
  if (d === null) return html('p', { class: 'muted' }, r.error ? `${r.error.code}: ${r.error.message}` : 'no decision recorded');
  const rows = d.candidates.map((c) =>
    html('tr', { 'data-verdict': c.verdict }, html('td', {}, c.hypervisor), html('td', {}, c.viaPeer), html('td', { class: 'num' }, formatNumber(c.flowCost)), html('td', { class: 'num' }, cost(c.costThere)), html('td', {}, c.verdict)),
  );
  return html(
    'div',
    { class: 'decision' },
    html('p', {}, `C_A(${r.vm}) ${formatNumber(d.costBefore)} on ${d.from} → ${formatNumber(d.costAfter)}${d.to ? ` on ${d.to}` : ' (stays)'}; mode ${d.mode}, c_m ${formatNumber(d.migrationCost)}`),
    d.candidates.length === 0
      ? html('p', { class: 'muted' }, 'no candidate hosts')
      : html(
          'table',
          { class: 'candidates' },
          html('thead', {}, html('tr', {}, html('th', {}, 'candidate'), html('th', {}, 'via peer'), html('th', {}, 'flow cost'), html('th', {}, 'C_A there'), html('th', {}, 'verdict'))),
          html('tbody', {}, ...rows),
        ),
    ...(r.connectivity ? [html('p', {}, `peers' probes: ${r.connectivity.received}/${r.connectivity.sent} answered, longest gap ${r.connectivity.blackoutMs} ms`)] : []),
    ...(r.figures ? [html('p', { class: 'figures' }, figuresLine(r.figures))] : []),
  );
}

/** The audit log, newest first; each decision's reason opens onto the candidates it weighed. */
export function renderLog(tbody: HTMLElement, records: readonly MigrationRecord[]): void {
  const rows = [...records]
    .reverse()
    .slice(0, SHOWN)
    .map((r) =>
      html(
        'tr',
        { 'data-id': r.id, 'data-vm': r.vm, 'data-status': r.status },
        html('td', {}, r.id),
        html('td', {}, r.policy),
        html('td', { class: 'num' }, String(r.round)),
        html('td', {}, r.vm),
        html('td', {}, `${r.from} → ${r.to ?? '(stay)'}`),
        html('td', {}, html('span', { class: `status ${r.status}` }, r.status), ...(r.review ? [' ', html('span', { class: 'review' }, r.review.verdict)] : [])),
        html('td', { class: 'num' }, `${cost(r.totalCostBefore)} → ${cost(r.totalCostAfter)}`),
        html('td', {}, html('details', {}, html('summary', {}, r.decision?.reason ?? r.error?.message ?? ''), candidatesTable(r))),
      ),
    );
  tbody.replaceChildren(...rows);
}

export const isPending = (r: MigrationRecord): boolean => r.status === 'planned' && r.to !== null && (r.review === undefined || r.review === null);

/** The plan's proposed moves awaiting an operator, each with approve and skip. */
export function renderPlan(list: HTMLElement, records: readonly MigrationRecord[], busy: boolean): void {
  const pending = records.filter(isPending);
  if (pending.length === 0) {
    list.replaceChildren(html('li', { class: 'muted' }, 'No planned moves awaiting review. "Plan" runs a dry run: agents decide, nothing migrates.'));
    return;
  }
  list.replaceChildren(
    ...pending.map((r) => {
      const approve = html('button', { type: 'button', 'data-action': 'approve', 'data-id': r.id }, 'Approve');
      const skip = html('button', { type: 'button', 'data-action': 'skip', 'data-id': r.id }, 'Skip');
      // one migration at a time: the server would refuse an approval while something runs
      approve.toggleAttribute('disabled', busy);
      return html(
        'li',
        { 'data-id': r.id, 'data-vm': r.vm },
        html('strong', {}, `${r.vm}: ${r.from} → ${r.to ?? ''}`),
        ` C_A ${formatNumber(r.decision?.costBefore ?? 0)} → ${formatNumber(r.decision?.costAfter ?? 0)} `,
        approve,
        skip,
        html('div', { class: 'reason' }, r.decision?.reason ?? ''),
      );
    }),
  );
}
