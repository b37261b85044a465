// Docs that must not go stale: one page per error code, and every option named in the README.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

  it('the README prints the mail recipes exactly as the tested files are', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const file of ['examples/mail/nodemailer-smtp.ts', 'examples/mail/resend-api.ts']) {
      assert.ok(readme.includes('```ts\n' + readFileSync(file, 'utf8') + '```'), `README's copy of ${file} differs from the file`);
    }
  });

  it('the README lists every MagicLink option', () => {
    const source = readFileSync('src/config/options.ts', 'utf8');
    const known = /const KNOWN_KEYS = \[([\s\S]*?)\]/
      .exec(source)![1]!
      .match(/'(\w+)'/g)!
      .map((key) => key.slice(1, -1));
    assert.ok(known.length > 20);
    const readme = readFileSync('README.md', 'utf8');
    // `limits` is listed key by key (`limits.windowSeconds`, …).
    for (const key of known) assert.ok(readme.includes(key === 'limits' ? '| `limits.' : `| \`${key}\` |`), `README options table lacks \`${key}\``);
  });
});
