// One clock for every time decision, the store server's: app hosts whose clocks disagree with it,
// a server frozen past the deadline, and a server far away. Each case counts the links spent by
// requests answered 503 (there must be none) and the sign-ins refused for a clock alone.
import assert from 'node:assert/strict';
import request from 'supertest';
import { DelayProxy } from '../../helpers/delay-proxy.js';
import { SHARED_BACKENDS, type Backend } from '../../helpers/shared-backends.js';
import { anyone, createTestApp, sleep, TEST_SECRET, type TestApp } from '../../helpers/test-app.js';

const STORE_TIMEOUT_MS = 1_000;
const limits = { linkRequestsPerIp: 10_000, linkRequestsPerEmail: 10_000, failedVerifiesPerIp: 10_000 };

function appOn(options: Parameters<typeof createTestApp>[0], skewMs = 0): TestApp {
  return createTestApp({ secret: TEST_SECRET, verify: anyone, limits, storeTimeoutMs: STORE_TIMEOUT_MS, ...options, now: () => Date.now() + skewMs });
}

async function issue(test: TestApp, n: number, tag: string): Promise<string[]> {
  for (let i = 0; i < n; i++)
    assert.equal(
      (
        await request(test.app)
          .post('/v1/auth/magic-link')
          .send({ email: `${tag}${i}@example.com` })
      ).status,
      202,
    );
  return test.outbox.slice(-n).map((mail) => new URL(mail.url).searchParams.get('token')!);
}

const verify = (test: TestApp, token: string, retryKey?: string) => {
  const post = request(test.app).post('/v1/auth/verify');
  return (retryKey === undefined ? post : post.set('Idempotency-Key', retryKey)).send({ token });
};

for (const { name, start } of SHARED_BACKENDS) {
  describe(`one clock on ${name}`, function () {
    this.timeout(90_000);
    let backend: Backend;
    before(async () => {
      backend = await start();
    });
    after(async () => {
      backend?.resumeFromPause();
      await backend?.stop();
    });

    it('app hosts 5 s behind and 5 s ahead of the server both issue and redeem, across each other', async () => {
      const behind = appOn(backend.options, -5_000);
      const ahead = appOn(backend.options, 5_000);
      const [fromBehind] = await issue(behind, 1, 'behind');
      const [fromAhead] = await issue(ahead, 1, 'ahead');
      assert.equal((await verify(ahead, fromBehind!)).status, 200);
      assert.equal((await verify(behind, fromAhead!)).status, 200);
    });

    it('a host 5 s ahead, the server frozen past the deadline: its 503s spent no link', async () => {
      const ahead = appOn(backend.options, 5_000);
      const tokens = await issue(ahead, 5, 'frozen');
      backend.pause();
      let during: number[];
      try {
        during = (await Promise.all(tokens.map((token) => verify(ahead, token)))).map((res) => res.status);
        await sleep(1_000);
      } finally {
        backend.resumeFromPause();
      }
      assert.deepEqual(
        during,
        tokens.map(() => 503),
      );
      await sleep(300); // what was queued while frozen has run by now, late
      const after = await Promise.all(tokens.map((token) => verify(ahead, token)));
      const spentBy503 = after.filter((res) => res.body.error === 'magic_link_already_used').length;
      assert.equal(spentBy503, 0, 'links spent by requests answered 503');
    });

    it('the server 600 ms away each way, storeTimeoutMs 1000: verifies answer 503 and spend no link', async () => {
      const near = appOn(backend.options);
      const tokens = await issue(near, 5, 'far');
      const proxy = await DelayProxy.start(backend.port, 600);
      const through = await backend.through(proxy.port);
      try {
        const far = appOn(through.options);
        const answers: number[] = [];
        for (const token of tokens) answers.push((await verify(far, token)).status);
        assert.deepEqual(
          answers,
          tokens.map(() => 503),
        );
        await sleep(1_500); // every statement or script sent through the proxy has arrived by now
      } finally {
        await through.close().catch(() => undefined);
        await proxy.stop();
      }
      const after = await Promise.all(tokens.map((token) => verify(near, token)));
      assert.equal(after.filter((res) => res.body.error === 'magic_link_already_used').length, 0, 'links spent by requests answered 503');
      assert.deepEqual(
        after.map((res) => res.status),
        tokens.map(() => 200),
      );
    });

    it('the server 100 to 900 ms away each way: no verify answered 503 spent its link (a retry with no key still signs in)', async () => {
      const near = appOn(backend.options);
      const delays = [100, 300, 450, 600, 900];
      const tokens = await issue(near, delays.length * 2, 'delays');
      const proxy = await DelayProxy.start(backend.port, 0);
      const through = await backend.through(proxy.port);
      const outcomes: string[] = [];
      try {
        const far = appOn(through.options);
        for (const [i, delay] of delays.entries()) {
          proxy.delayMs = delay;
          for (const token of tokens.slice(i * 2, i * 2 + 2)) {
            const first = await verify(far, token);
            if (first.status === 200) {
              outcomes.push('200');
              continue;
            }
            assert.equal(first.status, 503, `at ${delay} ms: ${first.status} ${JSON.stringify(first.body)}`);
            await sleep(2 * delay + 200); // whatever was sent has arrived
            const retried = await verify(near, token);
            outcomes.push(`503 then ${retried.status}${retried.status === 200 ? '' : ` ${retried.body.error}`}`);
          }
        }
      } finally {
        await through.close().catch(() => undefined);
        await proxy.stop();
      }
      assert.ok(
        outcomes.every((outcome) => outcome === '200' || outcome === '503 then 200'),
        outcomes.join(', '),
      );
      assert.ok(outcomes.includes('200') && outcomes.includes('503 then 200'), `both outcomes were reached: ${outcomes.join(', ')}`);
    });

    it('an answer lost on the way back (the redeem ran, its answer arrived after the 503): only a retry with the same Idempotency-Key signs in', async () => {
      const near = appOn(backend.options);
      const [token, other] = await issue(near, 2, 'lost');
      const proxy = await DelayProxy.start(backend.port, 5);
      const through = await backend.through(proxy.port);
      try {
        const far = appOn(through.options);
        // Measured near: the clock and latency readings say the server is 5 ms away.
        assert.equal((await verify(far, other!)).status, 200);
        proxy.answerDelayMs = 1_500;
        const key = 'b1f0c3a8-5e2d-4c71-9a36-0f8e7d6c5b4a';
        const first = await verify(far, token!, key);
        assert.equal(first.status, 503);
        await sleep(1_700);
      } finally {
        await through.close().catch(() => undefined);
        await proxy.stop();
      }
      const stranger = await verify(near, token!, 'an-attacker-guessed-this-key');
      assert.equal(stranger.body.error, 'magic_link_already_used', 'the redeem did run: the link is spent for anyone else');
      assert.equal((await verify(near, token!)).body.error, 'magic_link_already_used');
      const retried = await verify(near, token!, 'b1f0c3a8-5e2d-4c71-9a36-0f8e7d6c5b4a');
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
    });
  });
}
