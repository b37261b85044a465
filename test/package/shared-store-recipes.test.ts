// The README's "Running on Redis" and "Running on PostgreSQL" recipes, as printed: each is
// examples/<store>/server.ts, the quick start with its lines in place. Two processes of it on one
// throwaway server, behind one BASE_URL: a link asked for in one, confirmed in the other, and the
// session read back in the first.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../helpers/redis-server.js';
import { SHARED_BACKENDS, type Backend } from '../helpers/shared-backends.js';
import { TEST_SECRET } from '../helpers/test-app.js';

/** The ts blocks of the README section that starts with `heading`. */
function readmeBlocks(heading: string): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no "${heading}"`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  return [...readme.slice(start, end < 0 ? undefined : end).matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

const cookieOf = (response: Response, name: RegExp): string => {
  const cookie = response.headers.getSetCookie().find((line) => name.test(line.split('=')[0]!));
  assert.ok(cookie, `no ${String(name)} cookie in ${response.headers.getSetCookie().join(' | ')}`);
  return cookie.split(';')[0]!;
};

interface Running {
  child: ChildProcess;
  output: () => string;
}

async function serve(file: string, port: number, env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const running = { child, output: () => output };
  await until(running, /Listening on/);
  return running;
}

async function until(running: Running, pattern: RegExp, from = 0): Promise<RegExpExecArray> {
  for (let i = 0; i < 400; i++) {
    const match = pattern.exec(running.output().slice(from));
    if (match) return match;
    if (running.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never printed ${String(pattern)}:\n${running.output()}`);
}

const RECIPES = [
  { backend: 'Redis', heading: '## Running on Redis (several processes)', file: 'examples/redis/server.ts' },
  { backend: 'PostgreSQL', heading: '## Running on PostgreSQL (several processes, no Redis)', file: 'examples/postgres/server.ts' },
];

for (const { backend: name, heading, file } of RECIPES) {
  describe(`README: ${heading.slice(3)}`, function () {
    this.timeout(120_000);
    let backend: Backend;
    const running: Running[] = [];
    before(async () => {
      backend = await SHARED_BACKENDS.find((candidate) => candidate.name === name)!.start();
    });
    after(async () => {
      for (const { child } of running) child.kill();
      await backend?.stop();
    });

    it(`prints ${file} line for line: every line of its block is in the file, in order`, () => {
      const [block] = readmeBlocks(heading);
      assert.ok(block, 'the section has a ts block');
      const lines = readFileSync(file, 'utf8').split('\n');
      let at = 0;
      for (const line of block.split('\n').filter((text) => text.trim() !== '')) {
        const found = lines.indexOf(line, at);
        assert.ok(found >= 0, `README line not in ${file} (after line ${at}): ${line}`);
        at = found + 1;
      }
    });

    it('two processes: the link asked for in one is confirmed in the other, and the first knows who signed in', async () => {
      const [portA, portB] = [await freePort(), await freePort()];
      const baseUrl = `http://localhost:${portA}`;
      const env = {
        ...backend.env,
        BASE_URL: baseUrl,
        MAGIC_LINK_SECRET: TEST_SECRET,
        SESSION_SECRET: 'one-session-secret-for-every-process',
        NODE_ENV: 'development',
      };
      const a = await serve(file, portA, env);
      running.push(a);
      const b = await serve(file, portB, env);
      running.push(b);
      const sent = await fetch(`${baseUrl}/v1/auth/magic-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"you@example.com"}',
      });
      assert.equal(sent.status, 202, await sent.text());
      const link = new URL((await until(a, /http:\/\/localhost:\d+\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]+/))[0]);
      // The load balancer sends the click to the other process.
      const other = `http://localhost:${portB}`;
      const page = await fetch(`${other}${link.pathname}${link.search}`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const field = (fieldName: string) => new RegExp(`name="${fieldName}" value="([^"]*)"`).exec(html)![1]!;
      const pressed = await fetch(`${other}/auth/magic-link/confirm`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl, cookie: cookieOf(page, /^mlc_/) },
        body: new URLSearchParams({ token: field('token'), page: field('page'), nonce: field('nonce') }).toString(),
      });
      assert.equal(pressed.status, 303, await pressed.text());
      const session = cookieOf(pressed, /^connect\.sid$/);
      const me = (await (await fetch(`${baseUrl}/me`, { headers: { cookie: session } })).json()) as { user: { email: string } | null };
      assert.equal(me.user?.email, 'you@example.com', 'the first process reads the session the second wrote');
      const home = await fetch(`${baseUrl}${pressed.headers.get('location')}`, { headers: { cookie: session } });
      assert.equal(home.status, 200);
      assert.match(await home.text(), /Signed in as you@example\.com/);
    });
  });
}
