// Installs the packed tarball into CommonJS, ESM and TypeScript consumer projects, as users would.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = process.cwd();
const EXPECTED_EXPORTS = [
  'MagicLink',
  'MagicLinkError',
  'MagicLinkStrategy',
  'MemoryTokenStore',
  'PostgresTokenStore',
  'RedisTokenStore',
  'errorCatalogue',
  'errorHandler',
  'isErrorCode',
  'migrate',
  'renderMagicLinkMail',
  'requestId',
];

describe('package', function () {
  this.timeout(120_000);
  let consumer: string;

  before(() => {
    // Inside the repo, so the consumer resolves express, passport and friends from its node_modules.
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    consumer = mkdtempSync(join(ROOT, '.tmp', 'consumer-'));
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', consumer], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(consumer, packed[0]!.filename);
    const target = join(consumer, 'node_modules', 'express-magic-link');
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
    writeFileSync(join(consumer, 'files.json'), JSON.stringify(packed[0]!.files.map((f) => f.path)));
  });

  after(() => rmSync(consumer, { recursive: true, force: true }));

  it('ships dist, README, CHANGELOG and LICENSE, and no sources, tests or example server', () => {
    const files = createRequire(import.meta.url)(join(consumer, 'files.json')) as string[];
    assert.ok(files.includes('dist/esm/index.js') && files.includes('dist/cjs/index.js'));
    assert.ok(files.includes('dist/esm/index.d.ts') && files.includes('dist/cjs/index.d.ts'));
    for (const doc of ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json']) assert.ok(files.includes(doc), doc);
    assert.deepEqual(
      files.filter((f) => /^(src|test|example-server|bench|scripts)\//.test(f)),
      [],
    );
  });

  it('depends on no @types package (a JavaScript app installs none) and ships the docs the README links to', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(
      Object.keys(pkg.dependencies).filter((name) => name.startsWith('@types/')),
      [],
    );
    const files = createRequire(import.meta.url)(join(consumer, 'files.json')) as string[];
    for (const doc of ['docs/redis.md', 'docs/postgres.md', 'docs/errors/README.md']) assert.ok(files.includes(doc), doc);
  });

  it('npm publish refuses while repository, homepage and bugs hold the placeholder owner; filled in, it goes ahead', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.prepublishOnly, 'node scripts/check-publish.mjs');
    const now = spawnSync(process.execPath, ['scripts/check-publish.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(now.status, 1);
    assert.match(now.stderr, /fill in repository, homepage, bugs/);
    const filled = join(consumer, 'filled-package.json');
    writeFileSync(filled, readFileSync(join(ROOT, 'package.json'), 'utf8').replaceAll('OWNER', 'acme'));
    assert.equal(spawnSync(process.execPath, ['scripts/check-publish.mjs', filled], { cwd: ROOT, encoding: 'utf8' }).status, 0);
  });

  it('require() from CommonJS', () => {
    writeFileSync(join(consumer, 'consumer.cjs'), "const m = require('express-magic-link'); console.log(JSON.stringify(Object.keys(m).sort()));");
    const keys = JSON.parse(execFileSync(process.execPath, ['consumer.cjs'], { cwd: consumer, encoding: 'utf8' })) as string[];
    assert.deepEqual(keys, EXPECTED_EXPORTS);
  });

  it('import from ESM', () => {
    writeFileSync(join(consumer, 'consumer.mjs'), "import * as m from 'express-magic-link'; console.log(JSON.stringify(Object.keys(m).sort()));");
    const keys = JSON.parse(execFileSync(process.execPath, ['consumer.mjs'], { cwd: consumer, encoding: 'utf8' })) as string[];
    assert.deepEqual(keys, EXPECTED_EXPORTS);
  });

  it('both formats run a sign-in end to end', () => {
    const script = (load: string) => `${load}
const express = require('express');
const { Passport } = require('passport');
const sent = [];
const passport = new Passport();
const magicLink = new MagicLink({ baseUrl: 'http://app.test', mailer: { send: async (m) => { sent.push(m.url); } } });
passport.use(new MagicLinkStrategy({ magicLink }, async (email) => ({ email })));
const app = express();
app.post('/link', magicLink.requestLinkHandler());
app.post('/login', express.json(), passport.authenticate('magic-link', { session: false }), (req, res) => res.json(req.user));
app.use(errorHandler());
const server = app.listen(0, async () => {
  const url = 'http://127.0.0.1:' + server.address().port;
  await fetch(url + '/link', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.co"}' });
  const token = new URL(sent[0]).searchParams.get('token');
  const res = await fetch(url + '/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  console.log(res.status, JSON.stringify(await res.json()));
  server.close();
});`;
    writeFileSync(join(consumer, 'flow.cjs'), script("const { MagicLink, MagicLinkStrategy, errorHandler } = require('express-magic-link');"));
    writeFileSync(
      join(consumer, 'flow.mjs'),
      script(
        "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);\nimport { MagicLink, MagicLinkStrategy, errorHandler } from 'express-magic-link';",
      ),
    );
    for (const file of ['flow.cjs', 'flow.mjs']) {
      assert.equal(execFileSync(process.execPath, [file], { cwd: consumer, encoding: 'utf8' }).trim(), '200 {"email":"a@b.co"}', file);
    }
  });

  it('type-checks in TypeScript consumers under NodeNext (ESM and CJS) and Bundler resolution', () => {
    writeFileSync(
      join(consumer, 'consumer.ts'),
      `import { Cluster, Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { MagicLink, MagicLinkError, RedisTokenStore, type ErrorCode, type MagicLinkOptions, type TokenStore } from 'express-magic-link';
const options: MagicLinkOptions = { baseUrl: 'https://app.example.com', mailer: { send: async ({ to, url }) => void [to, url] } };
// Real ioredis clients of both majors, and a Cluster, fit the \`redis\` option as they are.
new MagicLink({ ...options, redis: new Redis({ lazyConnect: true }) });
new MagicLink({ ...options, redis: new Redis5({ lazyConnect: true }) });
new RedisTokenStore(new Cluster([], { lazyConnect: true }));
const magicLink: MagicLink = new MagicLink(options);
const store: TokenStore = magicLink.store;
const code: ErrorCode = new MagicLinkError('invalid_email').code;
// @ts-expect-error unknown codes are rejected at compile time
new MagicLinkError('no_such_code');
export { store, code };
`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    for (const [module, resolution, type] of [
      ['NodeNext', 'NodeNext', 'module'],
      ['NodeNext', 'NodeNext', 'commonjs'],
      ['ESNext', 'Bundler', 'module'],
    ]) {
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type }));
      execFileSync(
        process.execPath,
        [tsc, '--noEmit', '--strict', '--skipLibCheck', '--types', 'node', '--module', module!, '--moduleResolution', resolution!, 'consumer.ts'],
        {
          cwd: consumer,
          encoding: 'utf8',
        },
      );
    }
  });

  // Regression: the shipped .d.ts imported passport-strategy, whose types were a devDependency here,
  // so every strict consumer without skipLibCheck failed with TS7016; the test inside the repo could
  // not see it. These consumers live outside the repository and install only what a user would.
  it('type-checks in fresh projects outside the repo, strict, without skipLibCheck (CJS + Express 4, ESM + Express 5 + nodenext, bundler)', function () {
    this.timeout(300_000);
    const outside = mkdtempSync(join(tmpdir(), 'ml-consumer-'));
    try {
      const tarball = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--pack-destination', outside], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
      ) as Array<{
        filename: string;
      }>;
      const source = `import express from 'express';
import passport from 'passport';
import { MagicLink, MagicLinkStrategy, errorHandler, type MagicLinkAuthInfo } from 'express-magic-link';
const magicLink = new MagicLink({ baseUrl: 'https://app.example.com', mailer: { send: async ({ to, url, code }) => void [to, url, code] } });
passport.use(new MagicLinkStrategy({ magicLink }, async (email) => ({ email })));
const app = express();
app.post('/v1/auth/verify', magicLink.verifyHandler());
app.post('/login', magicLink.crossSiteGuard(), passport.authenticate('magic-link', { session: false }), (req, res) => void res.json({ user: req.user }));
app.use(errorHandler());
export const info: MagicLinkAuthInfo | undefined = undefined;
`;
      for (const [name, express, type, module, resolution] of [
        ['cjs-express4', '4', 'commonjs', 'NodeNext', 'NodeNext'],
        ['esm-express5', '5', 'module', 'NodeNext', 'NodeNext'],
        ['bundler', '5', 'module', 'ESNext', 'Bundler'],
      ] as const) {
        const dir = join(outside, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type }));
        const types = express === '4' ? '@types/express@4' : '@types/express@5';
        execFileSync(
          'npm',
          [
            'install',
            '--no-audit',
            '--no-fund',
            '--prefer-offline',
            join(outside, tarball[0]!.filename),
            `express@${express}`,
            types,
            'passport@0.7',
            '@types/passport',
            'typescript@5.9',
            '@types/node@20',
          ],
          { cwd: dir, stdio: 'ignore' },
        );
        writeFileSync(join(dir, 'index.ts'), source);
        const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
        const args = [
          '--noEmit',
          '--strict',
          '--target',
          'ES2022',
          '--types',
          'node',
          '--module',
          module,
          '--moduleResolution',
          resolution,
          '--esModuleInterop',
          'index.ts',
        ];
        try {
          execFileSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: 'utf8' });
        } catch (error) {
          assert.fail(`${name}: ${(error as { stdout?: string }).stdout ?? String(error)}`);
        }
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
