/**
 * Reads the shell examples out of README.md and docs/*.md, so a test can run them as written
 * (issue 15: a new user's first hour). Pure: text in, blocks out; the runner lives in the tests.
 *
 * The convention (written for doc authors in docs/architecture.md, "Documented commands are
 * tested"):
 * - Fenced blocks labelled `console` or `sh` hold commands; any other label (or none) never runs.
 * - A command is a line starting with `$ `; a line ending in `\` continues it. The lines after it,
 *   up to the next `$ ` line or the end of the block, are what it prints: each is a key line its
 *   output must contain (see {@link normalise}); a line that is just `...` is an elision, and
 *   `...` within a line stands for any text on that output line (a measured value, a long tail).
 * - An HTML comment right above the block, `<!-- doc-test: DIRECTIVE -->`, changes how it runs:
 *   `exit N`, `root`, `live`, `long-running`, `skip REASON` (see {@link Mode}), `allow-error CODE`;
 *   several may stack, one per comment.
 * - A `console`/`sh` block without a `$ ` line, or a `$ ` line in a block of another label, is a
 *   convention error: every example is either run or says why not.
 */

/** How a block runs (and `root` on the block says who runs it). */
export type Mode =
  /** run to its end from a copy of the repository. */
  | 'run'
  /** API examples: run against a live controller the test starts, with `$S`, `$OP`, `$AG` set. */
  | 'live'
  /** a server that runs until Ctrl-C: started, its key lines awaited, then SIGINT; must exit `exit`. */
  | 'long-running'
  /** not run; `skipReason` says why. */
  | 'skip';

export interface DocCommand {
  /** 1-based line of the `$ ` line in its file. */
  readonly line: number;
  /** The shell text, continuations joined (without the `$ `). */
  readonly text: string;
  /** Key lines the output must contain, with their 1-based line numbers. */
  readonly expect: readonly { readonly line: number; readonly text: string }[];
}

export interface DocBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly mode: Mode;
  /** Needs root (emulate, Open vSwitch): run by the system doc test, not by the unprivileged one. */
  readonly root: boolean;
  /** Expected exit code of every command (default 0). */
  readonly exit: number;
  readonly skipReason?: string;
  /** `live` blocks: error codes an answer may carry (`allow-error CODE`), e.g. a 409 the example can meet */
  readonly allowErrors: readonly string[];
  readonly commands: readonly DocCommand[];
}

export interface DocParse {
  readonly blocks: readonly DocBlock[];
  /** Convention errors as `file:line: message`. */
  readonly errors: readonly string[];
}

const RUN_LABELS = new Set(['console', 'sh']);
const DIRECTIVE = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;

/** Parses one Markdown file. `file` is only used in messages and the result. */
export function parseDocCommands(file: string, markdown: string): DocParse {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  const errors: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const fence = FENCE.exec(lines[i] ?? '');
    if (fence === null) {
      i++;
      continue;
    }
    const open = i;
    const marker = fence[2] ?? '```';
    const label = fence[3] ?? '';
    const body: string[] = [];
    i++;
    while (i < lines.length && !(lines[i] ?? '').trimStart().startsWith(marker)) body.push(lines[i++] ?? '');
    i++; // the closing fence

    const directives = directivesAbove(lines, open);
    const hasDollar = body.some((l) => l.startsWith('$ '));
    const where = `${file}:${open + 1}`;
    if (!RUN_LABELS.has(label)) {
      if (hasDollar) errors.push(`${where}: a block with "$ " commands must be labelled console or sh (or drop the "$ ")`);
      if (directives.length > 0) errors.push(`${where}: doc-test directive on a block labelled "${label}", which never runs`);
      continue;
    }
    if (!hasDollar) {
      errors.push(`${where}: a ${label} block without "$ " lines: prefix each command with "$ " (see docs/architecture.md)`);
      continue;
    }
    let mode: Mode = 'run';
    let root = false;
    let exit = 0;
    let skipReason: string | undefined;
    const allowErrors: string[] = [];
    for (const d of directives) {
      const [word = '', ...rest] = d.split(/\s+/);
      if (word === 'exit' && /^\d+$/.test(rest[0] ?? '')) exit = Number(rest[0]);
      else if (word === 'root') root = true;
      else if (word === 'allow-error' && /^[A-Z_]+$/.test(rest[0] ?? '')) allowErrors.push(rest[0] ?? '');
      else if (word === 'live' || word === 'long-running') mode = word;
      else if (word === 'skip' && rest.length > 0) {
        mode = 'skip';
        skipReason = rest.join(' ');
      } else errors.push(`${where}: unknown doc-test directive "${d}"`);
    }
    blocks.push({ file, line: open + 1, mode, root, exit, allowErrors, ...(skipReason === undefined ? {} : { skipReason }), commands: commandsOf(body, open + 2) });
  }
  return { blocks, errors };
}

/** The directives in HTML comments on the lines right above line `open` (blank lines end them). */
function directivesAbove(lines: readonly string[], open: number): string[] {
  const out: string[] = [];
  for (let j = open - 1; j >= 0; j--) {
    const m = DIRECTIVE.exec((lines[j] ?? '').trim());
    if (m === null) break;
    out.unshift(m[1] ?? '');
  }
  return out;
}

function commandsOf(body: readonly string[], firstLine: number): DocCommand[] {
  const out: { line: number; text: string; expect: { line: number; text: string }[] }[] = [];
  let k = 0;
  while (k < body.length) {
    const l = body[k] ?? '';
    if (!l.startsWith('$ ')) {
      const current = out.at(-1);
      const t = l.trim();
      if (current !== undefined && t !== '' && t !== '...' && t !== '…') current.expect.push({ line: firstLine + k, text: l });
      k++;
      continue;
    }
    const line = firstLine + k;
    let text = l.slice(2);
    while (text.endsWith('\\') && k + 1 < body.length) text = `${text.slice(0, -1)} ${(body[++k] ?? '').trim()}`;
    out.push({ line, text: text.trim(), expect: [] });
    k++;
  }
  return out;
}

/**
 * What varies from run to run, masked before key lines are compared: runs of spaces collapse to
 * one; durations (`2.01 s`, `70 ms`), clock times (`02:13:10.205`), loopback ports, tokens
 * (`token X`, `#token=X`), run prefixes (`run prefix X`) and the temporary copy's path (shown in
 * docs as `/path/to/s-core`) become placeholders.
 */
export function normalise(text: string, root?: string): string {
  let t = root === undefined ? text : text.split(root).join('/path/to/s-core');
  t = t
    .replace(/\b\d{2}:\d{2}:\d{2}(\.\d+)?\b/g, '<clock>')
    .replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, '<duration>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/(token[ =])[A-Za-z0-9_-]+/g, '$1<token>')
    .replace(/(run prefix )[a-z0-9]+/g, '$1<prefix>');
  return t.replace(/\s+/g, ' ').trim();
}

/** The key lines (as shown in the doc) that the output does not contain, after {@link normalise}. */
export function missingKeyLines(expect: readonly { readonly text: string }[], output: string, root?: string): string[] {
  // Searched in the whole output, so a long output line the doc wraps over two lines still matches.
  const all = normalise(output, root);
  const lines = output.split('\n').map((l) => normalise(l, root));
  return expect
    .map((e) => e.text)
    .filter((t) => {
      const n = normalise(t);
      if (!n.includes('...')) return !all.includes(n);
      // "..." stands for any text within one output line; at the end it cuts a long line short.
      const re = new RegExp(n.split(/\s*\.\.\.\s*/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
      return !lines.some((l) => re.test(l));
    });
}
