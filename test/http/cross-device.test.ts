// Cross-device approval (SPEC §8) over HTTP, with a cookie jar per device: the laptop asks, the
// phone opens the mail. Run on the memory store and on each shared backend.
import assert from 'node:assert/strict';
import request from 'supertest';
import type { MagicLinkEvent, MagicLinkOptions } from '../../src/index.js';
import { browser, openConfirmPage, type Browser, type ConfirmForm } from '../helpers/confirm.js';
import { FlakySessionStore } from '../helpers/flaky-session-store.js';
import { SHARED_BACKENDS, type Backend } from '../helpers/shared-backends.js';
import { createTestApp, expectError, sleep, type TestApp, type TestAppOptions } from '../helpers/test-app.js';

const LAPTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

interface Flow {
  t: TestApp;
  laptop: Browser;
  phone: Browser;
  match: number;
  token: string;
  events: MagicLinkEvent[];
}

/** The laptop asks for alice's link with cross-device on; the phone has the mail. */
async function ask(options: TestAppOptions, email = 'alice@example.com'): Promise<Flow> {
  const events: MagicLinkEvent[] = [];
  const t = createTestApp({ crossDevice: true, onEvent: (event) => void events.push(event), ...options });
  if (!t.users.has(email)) t.users.set(email, { id: email, email });
  const laptop = browser(t.app);
  const phone = browser(t.app);
  const res = await laptop.post('/v1/auth/magic-link').set('User-Agent', LAPTOP_UA).send({ email });
  assert.equal(res.status, 202, res.text);
  const match = (res.body as { data: { match: number } }).data.match;
  assert.ok(Number.isInteger(match) && match >= 10 && match <= 99, `match ${match}`);
  return { t, laptop, phone, match, token: t.outbox.length > 0 ? t.tokenOf() : '', events };
}

const poll = async (agent: Browser): Promise<string> => {
  const res = await agent.get('/v1/auth/attempt');
  assert.equal(res.status, 200, res.text);
  return (res.body as { data: { status: string } }).data.status;
};

const collect = (agent: Browser): request.Test => agent.post('/v1/auth/attempt').set('Content-Type', 'application/json').send('{}');

function press(agent: Browser, form: ConfirmForm, fields: Record<string, string>): request.Test {
  return agent
    .post('/auth/magic-link/confirm')
    .type('form')
    .send({ ...form, ...fields });
}

const signedIn = async (agent: Browser): Promise<boolean> => (await agent.get('/v1/me')).status === 200;

const wrongNumber = (match: number): string => String(match === 99 ? 10 : match + 1);

const BACKENDS: Array<{ name: string; start: (() => Promise<Backend>) | null }> = [{ name: 'memory', start: null }, ...SHARED_BACKENDS];

for (const { name, start } of BACKENDS) {
  describe(`cross-device approval, on ${name}`, function () {
    this.timeout(60_000);
    let backend: Backend | undefined;
    let options: Partial<MagicLinkOptions> = {};
    before(async () => {
      backend = start ? await start() : undefined;
      options = backend ? backend.options : {};
    });
    beforeEach(() => backend?.reset());
    after(() => backend?.stop());

    it('the right number: the phone approves, is not signed in, and the laptop collects once, in a new session', async () => {
      const { laptop, phone, match, token, events, t } = await ask(options);
      assert.equal(await poll(laptop), 'pending');
      const page = await phone.get(`/auth/magic-link/confirm?token=${token}`).set('User-Agent', PHONE_UA);
      assert.match(page.text, /Approve the other device/);
      assert.match(page.text, /Firefox on Linux/, 'names the kind of browser that asked');
      assert.match(page.text, /not this one/);
      const approved = await press(phone, await openConfirmPage(phone, token), { action: 'approve', match: String(match) });
      assert.equal(approved.status, 200, approved.text);
      assert.match(approved.text, /Approved/);
      assert.equal(await signedIn(phone), false, 'the approving phone is not signed in');
      assert.equal(await poll(laptop), 'approved');

      await laptop.get('/test/visit'); // an anonymous session first: its id must not survive the sign-in
      const sidBefore = cookieOf(laptop, 'sid');
      const collected = await collect(laptop);
      assert.equal(collected.status, 200, collected.text);
      assert.deepEqual((collected.body as { data: { user: unknown } }).data.user, t.users.get('alice@example.com'));
      assert.notEqual(cookieOf(laptop, 'sid'), sidBefore, 'the session was regenerated');
      assert.equal(await signedIn(laptop), true);
      expectError(await collect(laptop), 'magic_link_not_found'); // its cookie was cleared
      assert.deepEqual(
        events.map((e) => e.type).filter((type) => type.startsWith('attempt_')),
        ['attempt_approved', 'attempt_collected'],
      );
      // The phone's own sign-in with the spent link is refused: the link was used by the approval.
      const here = await press(phone, await openConfirmPageAllowingFailure(phone, token), { action: 'sign_in' });
      assert.notEqual(here.status, 303);
    });

    it('a second collect of one approval fails, even with the same cookie replayed', async () => {
      const { laptop, phone, match, token, t } = await ask(options);
      await press(phone, await openConfirmPage(phone, token), { action: 'approve', match: String(match) });
      const cookie = cookieOf(laptop, 'ml_attempt');
      assert.ok(cookie);
      assert.equal((await collect(laptop)).status, 200);
      const replay = browser(t.app);
      await replay.get('/test/visit');
      const second = await replay
        .post('/v1/auth/attempt')
        .set('Cookie', `${cookieHeader(replay)}; ml_attempt=${cookie}`)
        .send({});
      expectError(second, 'magic_link_already_used');
    });

    it('a wrong number burns the link and the attempt; "Not me" burns both too', async () => {
      for (const action of ['wrong', 'deny'] as const) {
        const { laptop, phone, match, token, events } = await ask(options);
        const answer = await press(
          phone,
          await openConfirmPage(phone, token),
          action === 'wrong' ? { action: 'approve', match: wrongNumber(match) } : { action: 'deny' },
        );
        assert.equal(answer.status, 200, answer.text);
        assert.match(answer.text, /Sign-in cancelled/);
        assert.equal(await poll(laptop), 'expired');
        expectError(await collect(laptop), 'magic_link_expired');
        assert.equal(await signedIn(laptop), false);
        const again = await phone.get(`/auth/magic-link/confirm?token=${token}`);
        assert.equal(again.status, 401, 'the link is burnt');
        const denied = events.find((e) => e.type === 'attempt_denied');
        assert.ok(denied && 'reason' in denied && denied.reason === (action === 'wrong' ? 'wrong_number' : 'not_me'));
      }
    });

    it('a number that is not two digits spends nothing and asks again', async () => {
      const { laptop, phone, match, token } = await ask(options);
      const form = await openConfirmPage(phone, token);
      const bad = await press(phone, form, { action: 'approve', match: 'abc' });
      assert.equal(bad.status, 422);
      assert.match(bad.text, /aria-invalid="true"/);
      assert.equal(await poll(laptop), 'pending');
      assert.equal((await press(phone, form, { action: 'approve', match: ` ${match} ` })).status, 200);
      assert.equal(await poll(laptop), 'approved');
    });

    it('a collect without the asking browser’s cookie never signs in', async () => {
      const { laptop, phone, match, token, t } = await ask(options);
      await press(phone, await openConfirmPage(phone, token), { action: 'approve', match: String(match) });
      const other = browser(t.app);
      await other.get('/test/visit');
      expectError(await collect(other), 'magic_link_not_found');
      // The right link id with a made-up secret: still nothing to collect.
      const real = cookieOf(laptop, 'ml_attempt')!;
      const forged = real.slice(0, 14) + 'A'.repeat(43);
      const guess = await other
        .post('/v1/auth/attempt')
        .set('Cookie', `${cookieHeader(other)}; ml_attempt=${forged}`)
        .send({});
      assert.equal(guess.status, 202, guess.text);
      assert.equal(await signedIn(other), false);
      assert.equal((await collect(laptop)).status, 200, 'the real asker still collects');
    });

    it('the asking browser’s own confirm page signs in as ever, with no approve step', async () => {
      const { laptop, token } = await ask(options);
      const page = await laptop.get(`/auth/magic-link/confirm?token=${token}`);
      assert.doesNotMatch(page.text, /Approve the other device/);
      const form = await openConfirmPage(laptop, token);
      const res = await press(laptop, form, {});
      assert.equal(res.status, 303);
      assert.equal(await signedIn(laptop), true);
      assert.equal(await poll(laptop), 'expired', 'the attempt ends with its link');
    });

    it('a phone already signed in as the same person may still approve the laptop', async () => {
      const t = createTestApp({ crossDevice: true, ...options });
      const phone = browser(t.app);
      const laptop = browser(t.app);
      // Yesterday: the phone signed in with a link of its own.
      await phone.post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      assert.equal((await press(phone, await openConfirmPage(phone, t.tokenOf()), {})).status, 303);
      assert.equal(await signedIn(phone), true);
      // Today: the laptop asks, and the mail is opened on the phone.
      const asked = await laptop.post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      const match = (asked.body as { data: { match: number } }).data.match;
      const approved = await press(phone, await openConfirmPage(phone, t.tokenOf()), { action: 'approve', match: String(match) });
      assert.match(approved.text, /Approved/, approved.text);
      assert.equal((await collect(laptop)).status, 200);
    });

    it('concurrent approve and same-device sign-in: exactly one wins', async () => {
      for (let round = 0; round < 5; round++) {
        const { laptop, phone, match, token } = await ask(options, `race${round}@example.com`);
        const [approveForm, laptopForm] = await Promise.all([openConfirmPage(phone, token), openConfirmPage(laptop, token)]);
        const [approved, signed] = await Promise.all([press(phone, approveForm, { action: 'approve', match: String(match) }), press(laptop, laptopForm, {})]);
        const approveWon = approved.status === 200 && /Approved/.test(approved.text);
        const signInWon = signed.status === 303;
        assert.equal(Number(approveWon) + Number(signInWon), 1, `approve ${approved.status}, sign-in ${signed.status}`);
      }
    });

    it('approval after the link expired fails', async () => {
      const { laptop, phone, match, token, t } = await ask({ ...options, ttlSeconds: 1 });
      const form = await openConfirmPage(phone, token);
      if (backend) await sleep(1_200);
      else t.clock.advance(1_500);
      const late = await press(phone, form, { action: 'approve', match: String(match) });
      assert.equal(late.status, 401, late.text);
      assert.equal(await poll(laptop), 'expired');
    });

    it('a frozen store: the approve and the collect answer 503 and spend nothing; both work once it is back', async function () {
      if (!backend) return this.skip();
      const { laptop, phone, match, token } = await ask({ ...options, storeTimeoutMs: 500 });
      const form = await openConfirmPage(phone, token);
      backend.pause();
      try {
        const frozen = await press(phone, form, { action: 'approve', match: String(match) });
        assert.equal(frozen.status, 503, frozen.text);
      } finally {
        backend.resumeFromPause();
      }
      await sleep(300); // the late command reaches the server now, past its deadline: it must write nothing
      assert.equal(await poll(laptop), 'pending', 'the 503 approved nothing and spent nothing');
      assert.equal((await press(phone, form, { action: 'approve', match: String(match) })).status, 200);
      backend.pause();
      try {
        assert.equal((await collect(laptop)).status, 503);
      } finally {
        backend.resumeFromPause();
      }
      await sleep(300);
      assert.equal(await poll(laptop), 'approved', 'the 503 collected nothing');
      assert.equal((await collect(laptop)).status, 200);
      assert.equal(await signedIn(laptop), true);
    });

    it('GET and HEAD of the confirm URL change nothing, and neither they nor the mail carry the number', async () => {
      const { laptop, phone, match, token, t } = await ask(options);
      for (let i = 0; i < 3; i++) {
        const page = await phone.get(`/auth/magic-link/confirm?token=${token}`);
        assert.equal(page.status, 200);
        // Everything but the page's own figures (its lifetime, how long ago) and hidden fields.
        const text = page.text.replace(/value="[^"]*"|name="[^"]*"|sha256-[^']*|\d+ (?:seconds|minutes|hours)/g, '');
        assert.doesNotMatch(text, new RegExp(`\\b${match}\\b`), 'the confirm page shows the number');
        await phone.head(`/auth/magic-link/confirm?token=${token}`);
      }
      assert.equal(await poll(laptop), 'pending');
      // The mailer is handed the address, the link, the code and the expiry: no field for a number.
      assert.deepEqual(Object.keys(t.outbox.at(-1)!).sort(), ['code', 'expiresAt', 'request', 'to', 'url']);
    });
  });
}

/** The attacker asks for the victim's address from their own browser; the victim, on another device, tries everything once. */
describe('cross-device approval, the phishing attacker', function () {
  this.timeout(120_000);
  it('is signed in only when the victim happens to type the unseen number: about 1 in 90', async () => {
    const t = createTestApp({
      crossDevice: true,
      limits: {
        linkRequestsPerIp: 100_000,
        linkRequestsPerEmail: 100_000,
        failedExchangesPerIp: 100_000,
        failedExchangesPerEmail: 100_000,
        failedExchangesTotal: 100_000,
        attemptChecksPerIp: 100_000,
      },
    });
    const runs = 900;
    let wins = 0;
    for (let run = 0; run < runs; run++) {
      const email = `victim${run}@example.com`;
      t.users.set(email, { id: `v${run}`, email });
      const attacker = browser(t.app);
      const victim = browser(t.app);
      const asked = await attacker.post('/v1/auth/magic-link').send({ email });
      const match = (asked.body as { data: { match: number } }).data.match;
      const token = t.tokenOf();
      // The victim presses what the page offers, as a person would: a guessed number once, then "Not me".
      const guess = 10 + Math.floor(Math.random() * 90);
      const form = await openConfirmPage(victim, token);
      await press(victim, form, { action: 'approve', match: String(guess) });
      await press(victim, form, { action: 'deny' });
      await attacker.get('/test/visit');
      const collected = await collect(attacker);
      const attackerIn = collected.status === 200;
      assert.equal(attackerIn, guess === match, `run ${run}: guessed ${guess}, number ${match}, collect ${collected.status}`);
      if (attackerIn) wins++;
    }
    // Binomial(900, 1/90): mean 10, sd 3.1; this bound fails one run in many millions by chance.
    assert.ok(wins >= 1 && wins <= 28, `the attacker won ${wins} of ${runs}`);
  });
});

function cookieOf(agent: Browser, name: string): string | undefined {
  const jar = (agent as unknown as { jar: { getCookie: (name: string, access: unknown) => { value: string } | undefined } }).jar;
  return jar.getCookie(name, { domain: '127.0.0.1', path: '/', secure: false, script: false })?.value;
}

function cookieHeader(agent: Browser): string {
  const sid = cookieOf(agent, 'sid');
  return sid ? `sid=${sid}` : '';
}

async function openConfirmPageAllowingFailure(agent: Browser, token: string): Promise<ConfirmForm> {
  const res = await agent.get(`/auth/magic-link/confirm?token=${token}`);
  const nonce = /name="nonce" value="([^"]*)"/.exec(res.text)?.[1] ?? 'x';
  const page = /name="page" value="([^"]*)"/.exec(res.text)?.[1] ?? 'x';
  return { token, page, nonce };
}

describe('cross-device approval: budgets, policy and configuration', () => {
  it('polls and collects are budgeted per IP', async () => {
    const { laptop } = await ask({ limits: { attemptChecksPerIp: 3 } });
    for (let i = 0; i < 3; i++) assert.equal(await poll(laptop), 'pending');
    expectError(await laptop.get('/v1/auth/attempt'), 'magic_link_ip_limit_exceeded', 3600);
    expectError(await collect(laptop), 'magic_link_ip_limit_exceeded', 'any');
  });

  it('a wrong number counts as a wrong code for the address: past the budget, codes and even the right number are refused', async () => {
    const first = await ask({ limits: { failedExchangesPerEmail: 1 } });
    await press(first.phone, await openConfirmPage(first.phone, first.token), { action: 'approve', match: wrongNumber(first.match) });
    // A second link for the same address, on the same app: the wrong number spent the address's budget.
    const asked = await first.laptop.post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    const match = (asked.body as { data: { match: number } }).data.match;
    const refused = await press(first.phone, await openConfirmPage(first.phone, first.t.tokenOf()), { action: 'approve', match: String(match) });
    assert.equal(refused.status, 429, refused.text);
    expectError(
      await request(first.t.app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: first.t.codeOf() }),
      'exchange_code_attempt_limit_exceeded',
      'any',
    );
    assert.equal(await poll(first.laptop), 'pending', 'the refused approval spent nothing');
  });

  it('a session store that fails after the collect: 503, and the approval stays collectable once the store is back', async () => {
    const store = new FlakySessionStore();
    const { laptop, phone, match, token } = await ask({ sessionStore: store });
    await press(phone, await openConfirmPage(phone, token), { action: 'approve', match: String(match) });
    store.failing = true;
    expectError(await collect(laptop), 'service_unavailable', 5);
    store.failing = false;
    assert.equal(await poll(laptop), 'approved', 'the failed collect was given back');
    assert.equal((await collect(laptop)).status, 200);
    assert.equal(await signedIn(laptop), true);
  });

  it('a link withheld by beforeSend still answers a number and a cookie whose poll reads pending', async () => {
    const sent = await ask({});
    const withheld = await ask({ beforeSend: () => false });
    assert.equal(withheld.t.outbox.length, 0, 'nothing was mailed');
    assert.ok(cookieOf(withheld.laptop, 'ml_attempt'));
    assert.equal(await poll(withheld.laptop), await poll(sent.laptop));
    assert.equal((await collect(withheld.laptop)).status, 202);
  });

  it('is refused at construction without a store that keeps attempts, and the attempt handlers need it on', () => {
    const store = {
      save: async () => true,
      peek: async () => null,
      redeem: async () => ({ status: 'not_found' as const }),
      exchange: async () => ({ status: 'not_found' as const, wrong: true }),
      delete: async () => undefined,
    };
    assert.throws(() => createTestApp({ crossDevice: true, store }), /crossDevice.*approve/);
    assert.throws(() => createTestApp({ crossDevice: 'yes' as unknown as boolean }), /crossDevice.*true or false/);
    const { magicLink } = createTestApp();
    assert.throws(() => magicLink.attemptStatusHandler(), /crossDevice: true/);
    assert.throws(() => magicLink.attemptCollectHandler(), /crossDevice: true/);
  });

  it('off by default: no cookie, no number, and the confirm page offers no approval', async () => {
    const t = createTestApp();
    const res = await request(t.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.equal((res.body as { data: { match?: number } }).data.match, undefined);
    assert.doesNotMatch(String(res.headers['set-cookie'] ?? ''), /ml_attempt/);
    const page = await request(t.app).get(`/auth/magic-link/confirm?token=${t.tokenOf()}`);
    assert.doesNotMatch(page.text, /Approve the other device/);
  });
});
