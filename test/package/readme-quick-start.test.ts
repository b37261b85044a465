// The README's quick start, exactly as printed: its install lines run in a fresh project outside the
// repository (with the packed package in place of the registry's), its code compiled strict without
// skipLibCheck, then started, and a sign-in walked over http://localhost.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/redis-server.js';

const ROOT = process.cwd();

/** The fenced blocks of one language in the README section that starts with `heading`. */
function blocks(readme: string, heading: string, language: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no "${heading}"`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]!);
}

const cookieOf = (response: Response, name: RegExp): string => {
  const cookie = response.headers.getSetCookie().find((line) => name.test(line.split('=')[0]!));
  assert.ok(cookie, `no ${String(name)} cookie in ${response.headers.getSetCookie().join(' | ')}`);
  return cookie.split(';')[0]!;
};

describe('README quick start', function () {
  this.timeout(300_000);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [code] = blocks(readme, '## Quick start in an existing Express app', 'ts');
  const [install] = blocks(readme, '## Quick start in an existing Express app', 'sh');

  it('is examples/minimal/server.ts, word for word', () => {
    assert.equal(code, readFileSync(join(ROOT, 'examples/minimal/server.ts'), 'utf8'));
  });

  it('installs with its own install lines, compiles strict without skipLibCheck, runs, and signs in over http://localhost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ml-quick-start-'));
    let server: ReturnType<typeof spawn> | undefined;
    try {
      const [packed] = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
      ) as Array<{ filename: string }>;
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'quick-start', private: true, type: 'module' }));
      const lines = install!.split('\n').filter((line) => line.startsWith('npm install'));
      assert.equal(lines.length, 2, install);
      for (const line of lines) {
        // The package is not on the registry from here: the packed tarball takes its place.
        const args = line
          .split(/\s+/)
          .slice(1)
          .map((arg) => (arg === 'express-magic-link' ? join(dir, packed!.filename) : arg));
        execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'ignore' });
      }
      writeFileSync(join(dir, 'server.ts'), code!);
      const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
      try {
        execFileSync(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--target', 'es2022', '--outDir', 'out', 'server.ts'], {
          cwd: dir,
          encoding: 'utf8',
        });
      } catch (error) {
        assert.fail(`the quick start does not compile as printed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
      }

      const port = await freePort();
      const base = `http://localhost:${port}`;
      const child = spawn(process.execPath, ['out/server.js'], { cwd: dir, env: { ...process.env, PORT: String(port), NODE_ENV: 'development' } });
      server = child;
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const until = async (pattern: RegExp): Promise<RegExpExecArray> => {
        for (let i = 0; i < 200; i++) {
          const match = pattern.exec(output);
          if (match) return match;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw new Error(`never printed ${String(pattern)}:\n${output}`);
      };
      await until(/Listening on http:\/\/localhost:\d+/);

      const sent = await fetch(`${base}/v1/auth/magic-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"you@example.com"}',
      });
      assert.equal(sent.status, 202, await sent.text());
      const link = (await until(/http:\/\/localhost:\d+\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]+/))[0];
      assert.match(output, /Subject: Sign in to My app/);

      // The confirm page, then its Sign in button, as a browser would (cookies by hand).
      const page = await fetch(link);
      assert.equal(page.status, 200);
      const html = await page.text();
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;
      const pressed = await fetch(`${base}/auth/magic-link/confirm`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, cookie: cookieOf(page, /^mlc_/) },
        body: new URLSearchParams({ token: field('token'), page: field('page'), nonce: field('nonce') }).toString(),
      });
      assert.equal(pressed.status, 303);
      const session = cookieOf(pressed, /^connect\.sid$/);
      const me = (await (await fetch(`${base}/me`, { headers: { cookie: session } })).json()) as { user: { email: string } | null };
      assert.equal(me.user?.email, 'you@example.com', 'signed in over http://localhost');
    } finally {
      server?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
