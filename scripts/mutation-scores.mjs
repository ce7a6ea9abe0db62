// Mutation scores per folder from Stryker's JSON report(s): killed (incl. timeouts) over every mutant that
// ran or had no test (survived, no coverage); compile errors and ignored mutants do not count.
//   node scripts/mutation-scores.mjs [report.json ...]   (default .stryker-tmp/reports/mutation.json)
// With several reports, a file's mutants come from the last report that has the file.
import { readFileSync } from 'node:fs';

const paths = process.argv.slice(2);
const files = new Map();
for (const p of paths.length ? paths : ['.stryker-tmp/reports/mutation.json']) {
  for (const [name, f] of Object.entries(JSON.parse(readFileSync(p, 'utf8')).files)) files.set(name, f);
}
const folders = new Map();
const add = (key, status) => {
  const c = folders.get(key) ?? { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 };
  if (status in c) c[status]++;
  else c.other++;
  folders.set(key, c);
};
for (const [name, f] of files) {
  const rel = name.replace(/^.*?\/(core|reference|backends|training)\//, '$1/');
  const folder = rel.startsWith('backends/') ? rel.split('/').slice(0, 2).join('/') : rel.startsWith('training/') ? rel : rel.split('/')[0];
  for (const m of f.mutants) {
    add(folder, m.status);
    add(`  ${rel}`, m.status);
  }
}
const rows = [...folders].sort(([a], [b]) => a.trim().localeCompare(b.trim()) || (a.startsWith(' ') ? 1 : -1));
console.log('| folder / file | killed | timeout | survived | no coverage | score |\n|---|---|---|---|---|---|');
for (const [k, c] of rows) {
  const valid = c.Killed + c.Timeout + c.Survived + c.NoCoverage;
  const score = valid ? (100 * (c.Killed + c.Timeout)) / valid : NaN;
  console.log(`| ${k.startsWith(' ') ? '&nbsp;&nbsp;' + k.trim() : `**${k}**`} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${score.toFixed(1)}% |`);
}
