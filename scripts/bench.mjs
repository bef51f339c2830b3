#!/usr/bin/env node
// Runs every bench/*.bench.ts (or those whose name contains an argument) one after another.
// Arguments from the first one starting with '-' on go to each bench itself:
// `npm run bench -- cbench --switches 256`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dir = new URL('../bench/', import.meta.url).pathname;
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('-'));
const filters = firstOption < 0 ? args : args.slice(0, firstOption);
const benchArgs = firstOption < 0 ? [] : args.slice(firstOption).filter((a, i) => !(i === 0 && a === '--'));
if (benchArgs.length > 0 && filters.length === 0) {
  // every bench parses its own options strictly: one bench's option is another's error
  console.error('bench options need a bench name first: npm run bench -- NAME --option value');
  process.exit(2);
}
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  const names = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, ''));
  console.error(`no bench matched ${filters.map((x) => `"${x}"`).join(', ')}; benches: ${names.sort().join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.error(`# bench ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', dir + f, ...benchArgs], { stdio: 'inherit' });
  if (r.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
