// Docs that must not go stale: one page per error code, every option named, the printed recipes
// equal to the tested files, and every link between the README and the docs pages alive.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { errorCatalogue } from '../../src/index.js';

describe('docs', () => {
  it('docs/errors has a page for every catalogue code, with its status and the four sections', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      const path = `docs/errors/${code}.md`;
      assert.ok(existsSync(path), `${path} is missing`);
      const page = readFileSync(path, 'utf8');
      assert.ok(page.startsWith(`# \`${code}\` (${entry.status})`), path);
      for (const section of ['**What it means.**', '**When a user sees it.**', '**The fix.**', '```js'])
        assert.ok(page.includes(section), `${path}: ${section}`);
    }
  });

  it('docs/mail.md prints the mail recipes exactly as the tested files are', () => {
    const readme = readFileSync('docs/mail.md', 'utf8');
    for (const file of ['examples/mail/nodemailer-smtp.ts', 'examples/mail/resend-api.ts']) {
      assert.ok(readme.includes('```ts\n' + readFileSync(file, 'utf8') + '```'), `README's copy of ${file} differs from the file`);
    }
  });

  it('docs/options.md lists every MagicLink option', () => {
    const source = readFileSync('src/config/options.ts', 'utf8');
    const known = /const KNOWN_KEYS = \[([\s\S]*?)\]/
      .exec(source)![1]!
      .match(/'(\w+)'/g)!
      .map((key) => key.slice(1, -1));
    assert.ok(known.length > 20);
    const readme = readFileSync('docs/options.md', 'utf8');
    // `limits` is listed key by key (`limits.windowSeconds`, …).
    // A table row of its own (Prettier pads the cells).
    for (const key of known)
      assert.match(readme, key === 'limits' ? /^\| `limits\./m : new RegExp(`^\\| \`${key}\` +\\|`, 'm'), `docs/options.md lacks \`${key}\``);
  });

  it('every relative link in the README and the docs pages names a file that exists, and an anchor that heads a section there', () => {
    const pages = ['README.md', 'CONTRIBUTING.md', ...markdownUnder('docs')];
    let checked = 0;
    for (const page of pages) {
      const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const file = path ? normalize(join(dirname(page), path)) : page;
        assert.ok(existsSync(file), `${page}: link to ${target} names no file`);
        if (anchor) assert.ok(anchorsOf(file).has(anchor), `${page}: ${target}: no heading for #${anchor} in ${file}`);
        checked++;
      }
    }
    assert.ok(checked > 20, `only ${checked} links checked`);
  });

  it('the package ships docs/ (the README links into it) and the README is a third of its former 86 KB', () => {
    const files = JSON.parse(readFileSync('package.json', 'utf8')).files as string[];
    assert.ok(files.includes('docs'));
    assert.ok(readFileSync('README.md').length < 30_000, `README is ${readFileSync('README.md').length} bytes`);
  });
});

function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? markdownUnder(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : [],
  );
}

/** GitHub's anchors: each heading lower-cased, punctuation dropped, spaces to hyphens. */
function anchorsOf(file: string): Set<string> {
  const headings = readFileSync(file, 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line));
  return new Set(
    headings.map((line) =>
      line
        .replace(/^#+ /, '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}
