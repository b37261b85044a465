// Where a newcomer gets stuck, the library says why, once, naming the fix; never in production for
// the cross-site and cookie hints, and never on the happy path. Each case runs in a process of its
// own, since each warning is given once per process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createTestApp } from '../helpers/test-app.js';

interface Outcome {
  warnings: Array<{ code: string; message: string }>;
  statuses: number[];
  mailed: number;
}

function run(scenario: string, nodeEnv = 'development'): Outcome {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/diagnostics.ts', scenario], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_ENV: nodeEnv },
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Outcome;
}

describe('diagnostics', function () {
  this.timeout(60_000);

  it('a refused cross-site POST says once which Origin came, which was expected, and names trustedOrigins', () => {
    const { warnings, statuses, mailed } = run('cross-site');
    assert.deepEqual(statuses, [403, 403, 403]);
    assert.equal(mailed, 0);
    assert.deepEqual(
      warnings.map((warning) => warning.code),
      ['EXPRESS_MAGIC_LINK_CROSS_SITE'],
    );
    assert.match(warnings[0]!.message, /"http:\/\/127\.0\.0\.1:4720"/);
    assert.match(warnings[0]!.message, /http:\/\/localhost:4720/);
    assert.match(warnings[0]!.message, /`trustedOrigins`/);
  });

  it('a sign-in whose Secure session cookie cannot arrive over http says once what to change', () => {
    const { warnings, statuses } = run('secure-cookie');
    assert.deepEqual(statuses, [202, 200, 202, 200]);
    assert.deepEqual(
      warnings.map((warning) => warning.code),
      ['EXPRESS_MAGIC_LINK_SECURE_COOKIE_OVER_HTTP'],
    );
    assert.match(warnings[0]!.message, /secure: baseUrl\.startsWith\('https:'\)/);
    assert.match(warnings[0]!.message, /trust proxy/);
  });

  it('neither hint is given in production', () => {
    for (const scenario of ['cross-site', 'secure-cookie']) {
      const codes = run(scenario, 'production').warnings.map((warning) => warning.code);
      // The memory store's production warning is another matter (the fixture runs on it).
      assert.deepEqual(
        codes.filter((code) => code !== 'EXPRESS_MAGIC_LINK_MEMORY_STORE'),
        [],
        scenario,
      );
    }
  });

  it('a link request without session middleware, in an app whose handlers sign into the session, is refused and mails nothing', () => {
    const { warnings, statuses, mailed } = run('no-session');
    assert.deepEqual(statuses, [500, 500]);
    assert.equal(mailed, 0);
    assert.deepEqual(
      warnings.map((warning) => warning.code),
      ['EXPRESS_MAGIC_LINK_NO_SESSION'],
    );
    assert.match(warnings[0]!.message, /before `magicLink\.requestLinkHandler\(\)`/);
  });

  it('sessions only on the routes that sign in, said with requestLinkHandler({ sessionRequired: false }): the link is mailed and signs in', () => {
    const { warnings, statuses, mailed } = run('sessions-on-sign-in-routes');
    assert.deepEqual(statuses, [202, 200, 200]);
    assert.equal(mailed, 1);
    assert.deepEqual(
      warnings.map((warning) => warning.code).filter((code) => code !== 'EXPRESS_MAGIC_LINK_MEMORY_STORE'),
      [],
    );
  });

  it('requestLinkHandler refuses an option it does not know, or a sessionRequired that is not a boolean', () => {
    const { magicLink } = createTestApp();
    assert.throws(() => magicLink.requestLinkHandler({ sessionRequire: false } as never), /unknown option `sessionRequire`\. Did you mean `sessionRequired`\?/);
    assert.throws(() => magicLink.requestLinkHandler({ sessionRequired: 'no' } as never), /`sessionRequired` must be true or false; got "no"/);
  });

  it('the happy path gives no warning at all', () => {
    const { warnings, statuses, mailed } = run('happy');
    assert.deepEqual(statuses, [202, 200]);
    assert.equal(mailed, 1);
    assert.deepEqual(warnings, []);
  });
});
