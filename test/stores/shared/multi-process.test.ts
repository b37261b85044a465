import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { expectError } from '../../helpers/test-app.js';
import { SHARED_BACKENDS, type Backend } from '../../helpers/shared-backends.js';

interface ServerProcess {
  url: string;
  child: ChildProcess;
}

function startServer(env: Record<string, string>): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/server-process.ts'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('server process did not start')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${match[1]}`, child });
      }
    });
    child.on('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
}

async function post(
  base: string,
  path: string,
  body: unknown,
  ip = '10.0.0.1',
): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Record<string, string> }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, text, headers: Object.fromEntries(res.headers) };
}

async function lastMail(base: string): Promise<{ token: string; code: string }> {
  const mails = (await (await fetch(`${base}/test/outbox`)).json()) as Array<{ url: string; code: string }>;
  return { token: new URL(mails.at(-1)!.url).searchParams.get('token')!, code: mails.at(-1)!.code };
}

const cases: Array<{ name: string; backend: (typeof SHARED_BACKENDS)[number]; env: Record<string, string> }> = [
  { name: 'one Redis (ioredis 6)', backend: SHARED_BACKENDS[0]!, env: { IOREDIS: '6' } },
  { name: 'one Redis (ioredis 5)', backend: SHARED_BACKENDS[0]!, env: { IOREDIS: '5' } },
  { name: 'one PostgreSQL', backend: SHARED_BACKENDS[1]!, env: {} },
];

for (const {
  name,
  backend: { start },
  env: extra,
} of cases) {
  describe(`two server processes sharing ${name}`, function () {
    this.timeout(60_000);
    let backend: Backend;
    let a: ServerProcess;
    let b: ServerProcess;

    before(async () => {
      backend = await start();
      const env = { ...backend.env, ...extra, EMAIL_LIMIT: '3', IP_LIMIT: '4' };
      [a, b] = await Promise.all([startServer(env), startServer(env)]);
    });
    after(async () => {
      a?.child.kill('SIGTERM');
      b?.child.kill('SIGTERM');
      await backend?.stop();
    });

    it('a link requested on one process is redeemed on the other, once', async () => {
      assert.equal((await post(a.url, '/v1/auth/magic-link', { email: 'alice@example.com' }, '10.1.0.1')).status, 202);
      const { token } = await lastMail(a.url);
      const onB = await post(b.url, '/v1/auth/verify', { token });
      assert.equal(onB.status, 200, onB.text);
      expectError((await post(a.url, '/v1/auth/verify', { token })) as never, 'magic_link_already_used');
    });

    it('100 concurrent redeems of one token over both processes: exactly one success', async () => {
      assert.equal((await post(a.url, '/v1/auth/magic-link', { email: 'bob@example.com' }, '10.2.0.1')).status, 202);
      const { token } = await lastMail(a.url);
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => post(i % 2 ? a.url : b.url, '/v1/auth/verify', { token }, `10.3.${i}.1`)));
      assert.equal(results.filter((r) => r.status === 200).length, 1);
      const failures = results.filter((r) => r.status !== 200);
      assert.equal(failures.length, 99);
      // On a busy machine a slow loser may pass its deadline (503, nothing written); never a second 200.
      for (const failure of failures) assert.match(String(failure.body.error), /^(magic_link_already_used|service_unavailable)$/);
    });

    it('100 concurrent mixed link and code redeems of one sign-in over both processes: exactly one success', async () => {
      assert.equal((await post(b.url, '/v1/auth/magic-link', { email: 'alice@example.com' }, '10.6.0.1')).status, 202);
      const { token, code } = await lastMail(b.url);
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          i % 4 < 2
            ? post(i % 2 ? a.url : b.url, '/v1/auth/verify', { token }, `10.7.${i}.1`)
            : post(i % 2 ? a.url : b.url, '/v1/auth/exchange', { email: 'alice@example.com', code }, `10.7.${i}.1`),
        ),
      );
      assert.equal(results.filter((r) => r.status === 200).length, 1);
      for (const failure of results.filter((r) => r.status !== 200)) {
        assert.match(String(failure.body.error), /^((magic_link|exchange_code)_already_used|service_unavailable)$/);
      }
    });

    it('a revoke on one process burns the outstanding link and code on the other; a new link works', async () => {
      const email = 'revoked@example.com';
      assert.equal((await post(a.url, '/v1/auth/magic-link', { email }, '10.8.0.1')).status, 202);
      const first = await lastMail(a.url);
      assert.equal((await post(a.url, '/v1/auth/magic-link', { email }, '10.8.0.2')).status, 202);
      const second = await lastMail(a.url);
      assert.equal(
        (await fetch(`${b.url}/test/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) })).status,
        204,
      );
      expectError((await post(a.url, '/v1/auth/verify', { token: first.token }, '10.8.0.3')) as never, 'magic_link_already_used');
      expectError((await post(b.url, '/v1/auth/exchange', { email, code: second.code }, '10.8.0.4')) as never, 'exchange_code_already_used');
      assert.equal((await post(b.url, '/v1/auth/magic-link', { email }, '10.8.0.5')).status, 202);
      const fresh = await lastMail(b.url);
      // Its confirm page offers the sign-in (the revoked ones say they were used).
      const page = await (await fetch(`${a.url}/auth/magic-link/confirm?token=${fresh.token}`)).text();
      assert.doesNotMatch(page, /already been used/);
      assert.match(page, /name="token"/);
      assert.match(await (await fetch(`${a.url}/auth/magic-link/confirm?token=${first.token}`)).text(), /already been used/);
    });

    it('the email budget is shared', async () => {
      const email = 'carol@example.com';
      const statuses = [];
      for (const [i, base] of [a.url, b.url, a.url, b.url].entries()) statuses.push((await post(base, '/v1/auth/magic-link', { email }, `10.4.${i}.1`)).status);
      assert.deepEqual(statuses, [202, 202, 202, 429]);
      const refused = await post(a.url, '/v1/auth/magic-link', { email }, '10.4.9.1');
      assert.equal(refused.body.error, 'magic_link_email_limit_exceeded');
      assert.ok(Number(refused.headers['retry-after']) > 3500);
    });

    it('the IP budget is shared', async () => {
      const statuses = [];
      for (const [i, base] of [a.url, b.url, a.url, b.url, a.url].entries())
        statuses.push((await post(base, '/v1/auth/magic-link', { email: `ip${i}@example.com` }, '10.5.0.1')).status);
      assert.deepEqual(statuses, [202, 202, 202, 202, 429]);
      assert.equal((await post(b.url, '/v1/auth/magic-link', { email: 'ip9@example.com' }, '10.5.0.1')).body.error, 'magic_link_ip_limit_exceeded');
    });
  });
}
