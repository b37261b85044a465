// Fails on an import cycle in src/, or an import against the layer order (README, "How it fits together").
// A file may import from its own layer or any layer below it; type-only imports count too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = 'src';
// Lowest first. A path matches the first rule whose prefix it starts with.
const LAYERS = [
  ['errors.ts', 0],
  ['config/checks.ts', 0],
  ['config/defaults.ts', 0],
  ['warnings.ts', 0],
  ['stores/', 1],
  ['types.ts', 2],
  ['config/', 3],
  ['sign-in/', 4],
  ['http/', 5],
  ['mail/', 5],
  ['magic-link.ts', 6],
  ['strategy.ts', 6],
  ['index.ts', 7],
];
// Packages a layer must not reach: a store knows no HTTP, not even in its types; below the strategy,
// nothing reaches Passport (a call into it would run the strategy: an import cycle at run time).
const FORBIDDEN = {
  'stores/': ['express', 'passport', 'passport-strategy'],
  'errors.ts': ['*'],
  'config/': ['passport', 'passport-strategy'],
  'sign-in/': ['passport', 'passport-strategy'],
  'http/': ['passport', 'passport-strategy'],
  'mail/': ['passport', 'passport-strategy'],
};
// The runtime route into Passport that an import list cannot show: a strategy looked up by name.
const PASSPORT_CALL = /\.authenticate\(|\._strategy\(|\bpassport\.use\(/;

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

const layerOf = (file) => {
  const rule = LAYERS.find(([prefix]) => file === prefix || (prefix.endsWith('/') && file.startsWith(prefix)));
  if (!rule) throw new Error(`${file} has no layer: add it to LAYERS in scripts/check-layers.mjs`);
  return rule[1];
};

const graph = new Map();
const problems = [];
for (const path of files(ROOT)) {
  const file = relative(ROOT, path);
  const source = readFileSync(path, 'utf8');
  const targets = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const spec = match[1];
    if (spec.startsWith('.')) {
      targets.push(normalize(join(dirname(file), spec.replace(/\.js$/, '.ts'))));
    } else {
      for (const [prefix, banned] of Object.entries(FORBIDDEN)) {
        const applies = file === prefix || (prefix.endsWith('/') && file.startsWith(prefix));
        if (applies && (banned.includes('*') || banned.includes(spec))) problems.push(`${file} imports '${spec}', which its layer must not know`);
      }
    }
  }
  if (layerOf(file) < layerOf('strategy.ts')) {
    const code = source.replace(/\/\/.*$|\/\*[\s\S]*?\*\/|`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'/gm, '');
    if (PASSPORT_CALL.test(code))
      problems.push(`${file} calls into Passport (${PASSPORT_CALL.exec(code)[0]}): below the strategy, sign in through the service`);
  }
  graph.set(file, targets);
}

for (const [file, targets] of graph) {
  for (const target of targets) {
    if (!graph.has(target)) problems.push(`${file} imports ${target}, which does not exist`);
    else if (file === 'errors.ts') problems.push(`errors.ts imports ${target}: it imports nothing of ours`);
    else if (layerOf(target) > layerOf(file))
      problems.push(`${file} (layer ${layerOf(file)}) imports ${target} (layer ${layerOf(target)}): data flows one way`);
  }
}

// Cycles: depth-first search, reporting each cycle once by its path.
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (state.get(target) === 'open') problems.push(`import cycle: ${[...stack.slice(stack.indexOf(target)), target].join(' → ')}`);
    else if (!state.has(target) && graph.has(target)) visit(target);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`layers: ${graph.size} files in src/, no import cycle, every import flows down`);
