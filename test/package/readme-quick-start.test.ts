// The README's quick start, exactly as printed, in both variants: its install lines run in fresh
// projects outside the repository (with the packed package in place of the registry's); the
// TypeScript file compiled with the printed tsconfig (strict, no skipLibCheck) and started with the
// printed command, the CommonJS file run by node on Express 4; each walked through a sign-in over
// http://localhost that ends on the `/` page naming the user.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

interface Started {
  output: () => string;
  stop: () => void;
}

function start(cwd: string, command: string[], port: number): Started {
  const child = spawn(command[0]!, command.slice(1), { cwd, env: { ...process.env, PORT: String(port), NODE_ENV: 'development' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { output: () => output, stop: () => void child.kill() };
}

async function until(server: Started, pattern: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 300; i++) {
    const match = pattern.exec(server.output());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never printed ${String(pattern)}:\n${server.output()}`);
}

/** A person in a browser: the form on `/`, the link from the mail, Sign in, and back on `/`. */
async function signIn(server: Started, base: string): Promise<void> {
  await until(server, /Listening on http:\/\/localhost:\d+/);
  const home = await fetch(`${base}/`);
  assert.equal(home.status, 200);
  assert.match(await home.text(), /<form method="post" action="\/v1\/auth\/magic-link">/);
  const sent = await fetch(`${base}/v1/auth/magic-link`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: 'email=you%40example.com',
  });
  assert.equal(sent.status, 303, await sent.text());
  assert.match(await (await fetch(new URL(sent.headers.get('location')!, base))).text(), /Check your email/);
  const link = (await until(server, /http:\/\/localhost:\d+\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]+/))[0];
  assert.match(server.output(), /Subject: Sign in to My app/);
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
  const landed = await fetch(new URL(pressed.headers.get('location')!, base), { headers: { cookie: session } });
  assert.equal(landed.status, 200);
  assert.match(await landed.text(), /Signed in as you@example\.com/);
}

/** Runs one printed `npm install` line; `instead` swaps packages (the packed tarball for the registry's). */
function installInto(dir: string, line: string, instead: Record<string, string>): void {
  const args = line
    .split(/\s+/)
    .slice(1)
    .map((arg) => instead[arg] ?? arg);
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'ignore' });
}

describe('README quick start', function () {
  this.timeout(300_000);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const heading = '## Quick start in an existing Express app';
  const [code] = blocks(readme, heading, 'ts');
  const [install] = blocks(readme, heading, 'sh');
  const [tsconfig] = blocks(readme, heading, 'json');
  const [commonjs] = blocks(readme, heading, 'js');
  const lines = (install ?? '').split('\n').filter((line) => line.startsWith('npm install'));
  let dir: string;
  let tarball: string;
  const servers: Started[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ml-quick-start-'));
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as Array<{ filename: string }>;
    tarball = join(dir, packed!.filename);
  });
  after(() => {
    for (const server of servers) server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is examples/minimal/server.ts and server.cjs, word for word', () => {
    assert.equal(code, readFileSync(join(ROOT, 'examples/minimal/server.ts'), 'utf8'));
    assert.equal(commonjs, readFileSync(join(ROOT, 'examples/minimal/server.cjs'), 'utf8'));
    assert.equal(lines.length, 2, install);
  });

  it('TypeScript: its install lines, its tsconfig, `npx tsc && node out/server.js`; signs in over http://localhost and lands on a page naming the user', async () => {
    const project = join(dir, 'ts');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'quick-start', private: true, type: 'module' }));
    for (const line of lines) installInto(project, line, { 'express-magic-link': tarball });
    writeFileSync(join(project, 'tsconfig.json'), tsconfig!);
    writeFileSync(join(project, 'server.ts'), code!);
    const run = /Run it with `([^`]+)`/.exec(readme)![1]!;
    assert.equal(run, 'npx tsc && node out/server.js');
    try {
      execFileSync(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc')], { cwd: project, encoding: 'utf8' });
    } catch (error) {
      assert.fail(`the quick start does not compile as printed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
    const port = await freePort();
    const server = start(project, [process.execPath, 'out/server.js'], port);
    servers.push(server);
    await signIn(server, `http://localhost:${port}`);
  });

  it('CommonJS: the first install line (on Express 4), `node server.cjs`; the same sign-in ends on the same page', async () => {
    const project = join(dir, 'cjs');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'quick-start-cjs', private: true }));
    installInto(project, lines[0]!, { 'express-magic-link': tarball, express: 'express@4' });
    writeFileSync(join(project, 'server.cjs'), commonjs!);
    const port = await freePort();
    const server = start(project, [process.execPath, 'server.cjs'], port);
    servers.push(server);
    await signIn(server, `http://localhost:${port}`);
  });
});
