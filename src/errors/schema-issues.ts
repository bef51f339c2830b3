/**
 * A JSON-schema validator's issues (TypeBox's, in the scenario loader and behind the API) as one
 * readable problem per field. The raw list says things several times: a union of constants fails
 * once per constant and once more as anyOf, and a rejected extra field once more as "schema is
 * false". Pure.
 */

/** One issue as TypeBox reports it (`Value.Errors`, or Fastify's `validation` list). */
export interface SchemaIssue {
  readonly instancePath?: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: unknown;
}

/** A field (JSON pointer, '' for the whole value) and what is wrong with it. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * The issues as problems, in the order of the issues, each (path, message) once:
 * - a union of constants: `must be one of a, b` at the union's anyOf issue; its constants' issues
 *   without their anyOf (a validator that stopped collecting before it): `must be one of a, ...`
 *   with the note that the list was cut;
 * - another union, with `anyOfMessage`: that message, its alternatives' own issues at the same
 *   field dropped (the scenario's bandwidth: a number or a string); without it, every issue kept;
 * - unknown fields (`additionalProperties`) and missing ones (`required`) named;
 * - "schema is false" (`boolean`, the repeat of a rejected extra field) dropped.
 */
export function schemaProblems(issues: readonly SchemaIssue[], anyOfMessage?: string): FieldProblem[] {
  const pathOf = (i: SchemaIssue): string => i.instancePath ?? '';
  const anyOfAt = new Set(issues.filter((i) => i.keyword === 'anyOf').map(pathOf));
  const consts = new Map<string, string[]>();
  for (const i of issues) {
    if (i.keyword !== 'const') continue;
    const allowed = String((i.params as { allowedValue?: unknown } | undefined)?.allowedValue);
    consts.set(pathOf(i), [...(consts.get(pathOf(i)) ?? []), allowed]);
  }
  // the fields whose union has one message of its own: its alternatives' issues say nothing more
  const replaced = (path: string): boolean => anyOfAt.has(path) && (consts.has(path) || anyOfMessage !== undefined);
  const names = (params: unknown, key: string): string[] | undefined => {
    const v = (params as Record<string, unknown> | undefined)?.[key];
    return Array.isArray(v) ? v.map((x) => `"${String(x)}"`) : undefined;
  };
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const i of issues) {
    const path = pathOf(i);
    let message: string;
    if (i.keyword === 'boolean') continue;
    if (i.keyword === 'anyOf') {
      const list = consts.get(path);
      message = list !== undefined ? `must be one of ${list.join(', ')}` : (anyOfMessage ?? i.message ?? 'invalid');
    } else if (replaced(path)) {
      continue;
    } else if (i.keyword === 'const') {
      message = `must be one of ${(consts.get(path) ?? []).join(', ')}, ... (the validator's list was cut)`;
    } else if (i.keyword === 'additionalProperties') {
      const extra = names(i.params, 'additionalProperties');
      message = extra !== undefined ? `unknown field(s) ${extra.join(', ')}` : (i.message ?? 'unknown field');
    } else if (i.keyword === 'required') {
      const missing = names(i.params, 'requiredProperties');
      message = missing !== undefined ? `missing required field(s) ${missing.join(', ')}` : (i.message ?? 'missing field');
    } else {
      message = i.message ?? 'invalid';
    }
    const key = `${path}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}
