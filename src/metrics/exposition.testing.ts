/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: it rejects what a
 * Prometheus server would reject (bad names, bad escapes, unparsable values, duplicate series) and
 * what the format forbids but scrapers tolerate (a TYPE after its samples, a family split in two,
 * a sample of an undeclared metric, a histogram whose buckets are not cumulative).
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string | null;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;

function parseValue(s: string, line: number): number {
  if (!FLOAT.test(s)) throw new Error(`line ${line}: bad value "${s}"`);
  if (s === 'NaN') return NaN;
  if (s.endsWith('Inf')) return s.startsWith('-') ? -Infinity : Infinity;
  return Number(s);
}

function unescapeHelp(s: string, line: number): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: bad escape "\\${c}" in HELP`);
  });
}

/** Reads `{a="x",b="y"}` from position i (at the `{`); returns the labels and the position after `}`. */
function parseLabels(text: string, i: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i += 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (m === null) throw new Error(`line ${line}: bad label name at "${text.slice(i)}"`);
    const name = m[0];
    if (name.startsWith('__')) throw new Error(`line ${line}: reserved label name ${name}`);
    if (Object.hasOwn(labels, name)) throw new Error(`line ${line}: label ${name} twice`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') throw new Error(`line ${line}: expected =" after ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`line ${line}: bad escape in label value`);
        i += 2;
        continue;
      }
      value += c;
      i += 1;
    }
    labels[name] = value;
    i += 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected , or } after label ${name}`);
  }
}

/** The family a sample name belongs to, given the declared types. */
function familyOf(name: string, types: ReadonlyMap<string, MetricType>): string | undefined {
  if (types.has(name)) {
    const t = types.get(name)!;
    // a histogram exposes only _bucket, _sum and _count, never its bare name
    return t === 'histogram' ? undefined : name;
  }
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = types.get(base);
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const types = new Map<string, MetricType>();
  const helps = new Map<string, string>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      if (closed.has(name) || (current !== name && families.has(name))) throw new Error(`line ${line}: ${kind} for ${name} after its samples`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`line ${line}: second HELP for ${name}`);
        helps.set(name, unescapeHelp(rest ?? '', line));
      } else {
        if (types.has(name)) throw new Error(`line ${line}: second TYPE for ${name}`);
        const t = (rest ?? '').trim() as MetricType;
        if (!TYPES.has(t)) throw new Error(`line ${line}: unknown type "${rest ?? ''}" for ${name}`);
        if (families.has(name) && families.get(name)!.samples.length > 0) throw new Error(`line ${line}: TYPE for ${name} after its samples`);
        types.set(name, t);
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (nm === null) throw new Error(`line ${line}: not a sample: ${raw}`);
    const name = nm[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (raw[i] === '{') ({ labels, end: i } = parseLabels(raw, i, line));
    const rest = raw.slice(i);
    const vm = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
    if (vm === null) throw new Error(`line ${line}: bad value part "${rest}"`);
    const value = parseValue(vm[1]!, line);
    const family = familyOf(name, types);
    if (family === undefined) throw new Error(`line ${line}: sample ${name} belongs to no declared metric`);
    for (const l of Object.keys(labels)) if (!LABEL_NAME.test(l)) throw new Error(`line ${line}: bad label ${l}`);
    if (current !== family) {
      if (current !== null) closed.add(current);
      if (closed.has(family)) throw new Error(`line ${line}: samples of ${family} are not contiguous`);
      current = family;
    }
    const key = `${name}{${Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    series.add(key);
    const f = families.get(family) ?? { name: family, type: types.get(family)!, help: helps.get(family) ?? null, samples: [] };
    families.set(family, f);
    f.samples.push({ name, labels, value });
  });
  // Declared families without samples still count as declared.
  for (const [name, type] of types) if (!families.has(name)) families.set(name, { name, type, help: helps.get(name) ?? null, samples: [] });
  for (const f of families.values()) checkFamily(f);
  return families;
}

function checkFamily(f: Family): void {
  if (f.type === 'counter') {
    for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`);
  }
  if (f.type !== 'histogram') return;
  // Per label set (without le): buckets cumulative, +Inf present and equal to _count.
  const groups = new Map<string, { buckets: { le: number; v: number }[]; count?: number; sum?: number }>();
  const keyOf = (l: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const s of f.samples) {
    const g = groups.get(keyOf(s.labels)) ?? { buckets: [] };
    groups.set(keyOf(s.labels), g);
    if (s.name.endsWith('_bucket')) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${s.name} without le`);
      g.buckets.push({ le: parseValue(le, 0), v: s.value });
    } else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [k, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a.le - b.le);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.v < sorted[i - 1]!.v) throw new Error(`${f.name}${k}: buckets not cumulative`);
    const inf = sorted.at(-1);
    if (inf === undefined || inf.le !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    if (g.count !== inf.v) throw new Error(`${f.name}${k}: _count ${g.count} differs from the +Inf bucket ${inf.v}`);
    if (g.sum === undefined) throw new Error(`${f.name}${k}: no _sum`);
  }
}

/** The value of one series; labels must match exactly (absent series: undefined). */
export function valueOf(families: ReadonlyMap<string, Family>, family: string, labels: Record<string, string> = {}, sample = family): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  return families.get(family)?.samples.find((s) => s.name === sample && JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))) === want)?.value;
}

/** Sum of every series of a family's sample name, whatever the labels. */
export function sumOf(families: ReadonlyMap<string, Family>, family: string, sample = family): number {
  return (families.get(family)?.samples ?? []).filter((s) => s.name === sample).reduce((t, s) => t + s.value, 0);
}
