// Mutation scores per folder from Stryker's JSON report(s): killed (incl. timeouts) over every mutant that
// ran or had no test (survived, no coverage); compile errors and ignored mutants do not count.
//   node scripts/mutation-scores.mjs [--survivors] [report.json ...]   (default: every group's report)
// --survivors also lists each surviving (S) and uncovered (NC) mutant: file:line, mutator, original -> replacement.
// With several reports, each mutant counts once: killed if any report killed it, else its last result.
import { readdirSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const survivors = args.includes('--survivors');
const paths = args.filter((a) => a !== '--survivors');
const defaults = readdirSync('.stryker-tmp/reports', { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.json'))
  .map((e) => `.stryker-tmp/reports/${e.name}`);
// per mutant (file, place, mutator, replacement): a kill in any report wins (core-static switches on at
// import what core could only switch on at run time), then a survival over an ignored mutant; else the
// later report
const files = new Map();
const rank = (status) => (status === 'Killed' || status === 'Timeout' ? 2 : status === 'Survived' || status === 'NoCoverage' ? 1 : 0);
const key = (m) => `${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ${m.mutatorName} ${m.replacement}`;
for (const p of paths.length ? paths : defaults) {
  for (const [name, f] of Object.entries(JSON.parse(readFileSync(p, 'utf8')).files)) {
    const have = files.get(name);
    const mutants = new Map(have ? have.mutants.map((m) => [key(m), m]) : []);
    for (const m of f.mutants) {
      const had = mutants.get(key(m));
      if (!had || rank(m.status) >= rank(had.status)) mutants.set(key(m), m);
    }
    files.set(name, { source: f.source, mutants: [...mutants.values()] });
  }
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

if (survivors) {
  console.log('');
  for (const [name, f] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const rel = name.replace(/^.*?\/(core|reference|backends|training)\//, '$1/');
    const lines = f.source.split('\n');
    for (const m of [...f.mutants].sort((a, b) => a.location.start.line - b.location.start.line)) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const { start, end } = m.location;
      const original = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : `${lines[start.line - 1].slice(start.column - 1)}...`;
      const short = (s) => (s.length > 70 ? `${s.slice(0, 67)}...` : s).replace(/\s+/g, ' ');
      console.log(`${m.status === 'Survived' ? 'S ' : 'NC'} ${rel}:${start.line} ${m.mutatorName}: ${short(original)} -> ${short(m.replacement ?? '')}`);
    }
  }
}
