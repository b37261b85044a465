// The benchmark script starts and finishes a 1-second run; no performance is asserted here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

describe('bench smoke test', function () {
  this.timeout(300_000);

  it('npm run bench finishes a 1-second run and prints every case', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts'], {
      env: { ...process.env, BENCH_DURATION: '1', BENCH_FOOTPRINT_LINKS: '1000' },
      encoding: 'utf8',
      timeout: 280_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout.slice(run.stdout.indexOf('JSON summary:') + 'JSON summary:'.length)) as {
      cases: Array<{ case: string }>;
      ratios: Record<string, number>;
    };
    // The figures later changes are judged by, each a number.
    for (const name of [
      'request-link memory, sessions app-wide (README layout) / bare',
      'verify Redis / floor',
      'Redis commands per verify (inside scripts included)',
      'better-auth (PostgreSQL) / us (PostgreSQL), request-link',
    ])
      assert.ok(Number.isFinite(summary.ratios[name]), `${name}: ${summary.ratios[name]}`);
    assert.deepEqual(
      summary.cases.map((c) => c.case),
      [
        'bare request-link',
        'bare verify',
        'floor verify',
        'memory request-link',
        'memory verify',
        'memory-app request-link',
        'memory-app verify',
        'redis request-link',
        'redis verify',
        'redis-app request-link',
        'redis-app verify',
        'redis-wait request-link',
        'redis-wait verify',
        'postgres request-link',
        'postgres verify',
        'peer request-link',
        'peer verify',
        'better-auth request-link',
        'better-auth verify',
      ],
    );
  });
});
