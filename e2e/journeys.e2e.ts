// A person at the browser: the demo walked in Chromium as the issue describes, with axe-core on
// every page state and a screenshot of each step (test-output/e2e, desktop and phone).
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { axeViolations, DESKTOP, lastMail, launch, PHONE, screenshot, signedIn, startDemo, type Demo } from './helpers.js';

/** Where the page comes to rest after navigations (an aborted one included): its URL, or the error it shows. */
async function settledPage(page: Page, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    await page.waitForTimeout(200);
    try {
      const state = await page.evaluate(() => ({ ready: document.readyState, href: location.href, text: document.querySelector('h1')?.textContent ?? '' }));
      const now = state.text.startsWith("Can't") ? `the error page ("${state.text}")` : state.href;
      if (state.ready === 'complete' && now === last && !state.href.includes('/confirm')) return now;
      if (state.ready === 'complete' && state.text.startsWith("Can't")) return now;
      last = now;
    } catch {
      // A navigation replaced the document: look again.
    }
  }
  return last || page.url();
}

/** The sign-in form as a person uses it: the address typed, the button pressed, "Check your email". */
async function askForLink(page: Page, demo: Demo, email: string): Promise<void> {
  await page.goto(`${demo.url}/`);
  await page.getByLabel('Email address', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
}

async function expectAccessible(page: Page, state: string): Promise<void> {
  assert.deepEqual(await axeViolations(page), [], `axe (WCAG 2.1 A/AA) on ${state}`);
}

/** One Chromium for the suite; a fresh demo (started with `env`) per test, and the contexts it opened closed after it. */
function demoPerTest(env: NodeJS.ProcessEnv = {}): {
  demo: () => Demo;
  /** This test's demo stopped and another started with `env`; it is the one stopped after the test. */
  restart: (env: NodeJS.ProcessEnv) => Promise<Demo>;
  context: (options?: BrowserContextOptions) => Promise<BrowserContext>;
} {
  let browser: Browser;
  let demo: Demo | undefined;
  const contexts: BrowserContext[] = [];
  before(async () => {
    browser = await launch();
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    demo = await startDemo(env);
  });
  afterEach(async () => {
    for (const created of contexts.splice(0)) await created.close();
    await demo?.stop();
  });
  return {
    demo: () => demo!,
    restart: async (other) => {
      await demo?.stop();
      demo = await startDemo(other);
      return demo;
    },
    context: async (options = DESKTOP) => {
      const created = await browser.newContext(options);
      contexts.push(created);
      return created;
    },
  };
}

describe('e2e: the demo in Chromium', function () {
  const suite = demoPerTest();
  const context = suite.context;
  let demo: Demo;
  beforeEach(() => {
    demo = suite.demo();
  });

  it('happy path: form → check your email → dev inbox → confirm → dashboard (the waiting tab moves on) → sign out', async () => {
    const ctx = await context();
    const page = await ctx.newPage();
    await page.goto(`${demo.url}/`);
    await expectAccessible(page, 'the sign-in page');
    await screenshot(page, 'desktop-sign-in');
    await page.getByLabel('Email address', { exact: true }).fill('ada@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Check your email', 'focus moves to the new state');
    assert.match((await page.textContent('main')) ?? '', /We sent a sign-in link to ada@example\.com/);
    assert.doesNotMatch(page.url(), /@|email=/, 'no address in the URL');
    await expectAccessible(page, 'check your email');
    await screenshot(page, 'desktop-check-your-email');

    const inbox = await ctx.newPage();
    await inbox.goto(`${demo.url}/dev/inbox`);
    await expectAccessible(inbox, 'the dev inbox');
    await screenshot(inbox, 'desktop-dev-inbox');
    await inbox.getByRole('link', { name: 'Sign in as ada@example.com' }).click();
    await inbox.getByRole('button', { name: 'Sign in' }).waitFor();
    await expectAccessible(inbox, 'the confirm page');
    await screenshot(inbox, 'desktop-confirm');
    await inbox.getByRole('button', { name: 'Sign in' }).click();
    await inbox.waitForURL(`${demo.url}/dashboard`);
    await expectAccessible(inbox, 'the dashboard');
    await screenshot(inbox, 'desktop-dashboard');

    // The tab that asked for the link notices by itself.
    await page.waitForURL(`${demo.url}/dashboard`, { timeout: 10_000 });

    await inbox.getByRole('button', { name: 'Sign out' }).click();
    await inbox.waitForURL(`${demo.url}/`);
    assert.equal(await signedIn(ctx, demo), false);
  });

  it('the code typed in a second browser (pasted as "123 456") signs that browser in, not the first', async () => {
    const laptop = await (await context()).newPage();
    await laptop.goto(`${demo.url}/`);
    await laptop.getByLabel('Email address', { exact: true }).fill('ada@example.com');
    await laptop.keyboard.press('Enter');
    await laptop.getByRole('heading', { name: 'Check your email' }).waitFor();
    const { code } = await lastMail(demo);

    const phoneContext = await context(PHONE);
    const phone = await phoneContext.newPage();
    await phone.goto(`${demo.url}/`);
    await phone.getByText('Have a code from the email? Enter it instead').click();
    await phone.locator('#code-email').fill('ada@example.com');
    await phone.locator('#code').fill(`${code.slice(0, 3)} ${code.slice(3)}`);
    assert.equal(await phone.locator('#code').inputValue(), code, 'the pasted space is dropped, no digit lost');
    await screenshot(phone, 'phone-code-entry');
    await phone.getByRole('button', { name: 'Sign in with the code' }).click();
    await phone.waitForURL(`${demo.url}/dashboard`);
    await screenshot(phone, 'phone-dashboard');
    assert.equal(await signedIn(phoneContext, demo), true);
    assert.equal(await signedIn(laptop.context(), demo), false);
  });

  for (const javaScript of [true, false]) {
    it(`double press on a throttled connection (300 ms), JavaScript ${javaScript ? 'on' : 'off'}: signed in, link not lost, 10 of 10 runs`, async () => {
      let signedInRuns = 0;
      const failures: string[] = [];
      for (let run = 0; run < 10; run++) {
        const ctx = await context({ ...DESKTOP, javaScriptEnabled: javaScript });
        const page = await ctx.newPage();
        await askForLink(page, demo, `run${run}@example.com`);
        const { url } = await lastMail(demo);
        await page.goto(url);
        // A slow connection: every request and response takes 300 ms.
        const cdp = await ctx.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 300, downloadThroughput: 50_000, uploadThroughput: 50_000 });
        let posts = 0;
        page.on('request', (request) => void (request.method() === 'POST' && posts++));
        // Two real mouse presses 150 ms apart, where the button is (the page is still up: the
        // first answer is 300 ms away). With JavaScript the second lands on a disabled button.
        const box = (await page.getByRole('button', { name: 'Sign in' }).boundingBox())!;
        await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
        await page.waitForTimeout(150);
        await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
        const ending = await settledPage(page);
        if (ending === `${demo.url}/dashboard` && (await signedIn(ctx, demo))) signedInRuns++;
        else failures.push(`run ${run}: ended on ${ending} after ${posts} presses sent`);
        await ctx.close();
      }
      assert.equal(signedInRuns, 10, failures.join('; '));
    });
  }

  it('a confirm page left open in a second tab, pressed after the first tab signed in, ends signed in; a pasted trailing "." is forgiven', async () => {
    const ctx = await context();
    const first = await ctx.newPage();
    await askForLink(first, demo, 'ada@example.com');
    const { url } = await lastMail(demo);
    const second = await ctx.newPage();
    await second.goto(`${url}.`); // copied with the sentence's full stop
    await first.goto(url);
    await first.getByRole('button', { name: 'Sign in' }).click();
    await first.waitForURL(`${demo.url}/dashboard`);
    await second.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await settledPage(second), `${demo.url}/dashboard`);
    assert.equal(await signedIn(ctx, demo), true);
  });

  it('used, expired and unknown links each say so, with a way on, and pass axe', async () => {
    const ctx = await context();
    const page = await ctx.newPage();
    await askForLink(page, demo, 'ada@example.com');
    const { url } = await lastMail(demo);
    await page.goto(url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${demo.url}/dashboard`);

    const other = await (await context()).newPage();
    await other.goto(url);
    assert.match((await other.textContent('main')) ?? '', /already been used/);
    await expectAccessible(other, 'a used link');
    await screenshot(other, 'desktop-link-used');

    await other.goto(`${demo.url}/auth/magic-link/confirm?token=${'A'.repeat(46)}`);
    assert.match((await other.textContent('main')) ?? '', /not valid/);
    await expectAccessible(other, 'an unknown link');
    await screenshot(other, 'desktop-link-unknown');
  });

  it('an expired link says it expired (a 2-second lifetime)', async () => {
    demo = await suite.restart({ MAGIC_LINK_TTL: '2' });
    const page = await (await context()).newPage();
    await page.goto(`${demo.url}/`);
    assert.match((await page.textContent('main')) ?? '', /expires in 2 seconds/);
    await page.getByLabel('Email address', { exact: true }).fill('ada@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const { url } = await lastMail(demo);
    await page.waitForTimeout(2_200);
    await page.goto(url);
    assert.match((await page.textContent('main')) ?? '', /has expired/);
    await expectAccessible(page, 'an expired link');
    await screenshot(page, 'desktop-link-expired');
  });

  it('a rate-limited request shows the wait in words; a wrong address is corrected at once', async () => {
    demo = await suite.restart({ MAGIC_LINK_IP_LIMIT: '2' });
    const page = await (await context()).newPage();
    await askForLink(page, demo, 'ada@exmaple.com');
    // The typo: change it, and the corrected address gets its link without waiting for the resend lock.
    await page.getByRole('button', { name: 'Wrong address? Change it' }).click();
    const email = page.getByLabel('Email address', { exact: true });
    assert.equal(await email.inputValue(), 'ada@exmaple.com');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'email', 'focus is on the address to correct');
    await email.fill('ada@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    assert.equal(demo.outbox.length, 2);
    assert.equal(demo.outbox[1]!.to, 'ada@example.com');
    // A third address from the same network: over the budget of 2.
    await page.getByRole('button', { name: 'Wrong address? Change it' }).click();
    await email.fill('bob@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.locator('#email-error').waitFor();
    assert.match(
      (await page.locator('#email-error').textContent()) ?? '',
      /Too many sign-in requests came from your network\. Please try again in about 60 minutes\./,
    );
    assert.equal(await page.getByLabel('Email address', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'email');
    await expectAccessible(page, 'a rate-limited request');
    await screenshot(page, 'desktop-rate-limited');
  });

  it('an empty field and a wrong code are tied to their fields and pass axe', async () => {
    const page = await (await context()).newPage();
    await page.goto(`${demo.url}/`);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.locator('#email-error').waitFor();
    assert.equal((await page.locator('#email-error').textContent())?.trim(), 'Please enter your email address.');
    assert.equal(await page.locator('#email').getAttribute('aria-describedby'), 'email-error');
    await expectAccessible(page, 'an empty email');
    await screenshot(page, 'desktop-empty-email');

    await page.getByLabel('Email address', { exact: true }).fill('ada@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const { code } = await lastMail(demo);
    await page.locator('#code').fill(code === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page.locator('#code-error').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'code');
    await expectAccessible(page, 'a wrong code');
    await screenshot(page, 'desktop-wrong-code');
  });

  it('without JavaScript every form posts: sign in, confirm, sign out; no address or code in any URL', async () => {
    const ctx = await context({ ...DESKTOP, javaScriptEnabled: false });
    const page = await ctx.newPage();
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    await askForLink(page, demo, 'ada@example.com');
    await screenshot(page, 'nojs-check-your-email');
    const { code } = await lastMail(demo);
    await page.locator('#code').fill(code);
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page.waitForURL(`${demo.url}/dashboard`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${demo.url}/`);
    assert.equal(await signedIn(ctx, demo), false);
    for (const url of urls) assert.doesNotMatch(url, /ada%40|ada@|email=|code=/, url);
  });

  it('on a phone: targets of at least 44 px, no sideways scrolling, a card with margins; every state passes axe', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.goto(`${demo.url}/`);
    const check = async (state: string) => {
      const layout = await page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        cardLeft: document.querySelector('main')!.getBoundingClientRect().left,
        small: [...document.querySelectorAll('button, input:not([type=hidden]), summary')]
          .map((element) => ({ text: element.textContent || element.id, height: element.getBoundingClientRect().height }))
          .filter((target) => target.height > 0 && target.height < 44),
      }));
      assert.ok(layout.overflow <= 0, `${state}: scrolls sideways by ${layout.overflow}px`);
      assert.ok(layout.cardLeft >= 8, `${state}: the card touches the edge`);
      assert.deepEqual(layout.small, [], `${state}: targets under 44 px`);
      await expectAccessible(page, `${state} on a phone`);
      await screenshot(page, `phone-${state}`);
    };
    await check('sign-in');
    await page.getByLabel('Email address', { exact: true }).fill('ada@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await check('check-your-email');
    const { url } = await lastMail(demo);
    await page.goto(url);
    await check('confirm');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${demo.url}/dashboard`);
    await check('dashboard');
  });

  it('at 400 % zoom (320 × 256 CSS px, WCAG 1.4.10 reflow) nothing scrolls sideways, and 200 % keeps the layout', async () => {
    for (const viewport of [
      { width: 320, height: 256 },
      { width: 640, height: 400 },
    ]) {
      const page = await (await context({ viewport })).newPage();
      const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await page.goto(`${demo.url}/`);
      assert.ok((await sideways()) <= 0, `sign-in at ${viewport.width} px`);
      await askForLink(page, demo, `zoom${viewport.width}@example.com`);
      assert.ok((await sideways()) <= 0, `check your email at ${viewport.width} px`);
      await page.goto((await lastMail(demo)).url);
      assert.ok((await sideways()) <= 0, `confirm at ${viewport.width} px`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${demo.url}/dashboard`);
      assert.ok((await sideways()) <= 0, `dashboard at ${viewport.width} px`);
      await screenshot(page, `zoom-${viewport.width}-dashboard`);
    }
  });

  it('the sign-in mail (renderMagicLinkMail) passes axe, light and dark', async () => {
    const { renderMagicLinkMail } = await import('../src/index.js');
    const mail = renderMagicLinkMail(
      { url: `${demo.url}/auth/magic-link/confirm?token=x`, code: '123456', expiresAt: new Date(Date.now() + 900_000) },
      { appName: 'Acme' },
    );
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await (await context({ ...DESKTOP, colorScheme })).newPage();
      await page.setContent(mail.html);
      await expectAccessible(page, `the mail, ${colorScheme}`);
      await screenshot(page, `mail-${colorScheme}`);
    }
  });

  it('dark scheme: the pages pass axe (contrast included)', async () => {
    const page = await (await context({ ...DESKTOP, colorScheme: 'dark' })).newPage();
    await page.goto(`${demo.url}/`);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.locator('#email-error').waitFor();
    await expectAccessible(page, 'the sign-in page, dark');
    await screenshot(page, 'dark-sign-in-error');
    await page.goto(`${demo.url}/no/such/page`);
    await expectAccessible(page, 'the not-found page, dark');
    await screenshot(page, 'dark-not-found');
  });
});

describe('e2e: cross-device approval in Chromium (MAGIC_LINK_CROSS_DEVICE=1)', function () {
  const suite = demoPerTest({ MAGIC_LINK_CROSS_DEVICE: '1' });
  const context = suite.context;
  let demo: Demo;
  beforeEach(() => {
    demo = suite.demo();
  });

  /** The laptop asks; the number its page shows. */
  async function laptopAsks(javaScript: boolean): Promise<{ laptop: Page; match: string }> {
    const laptop = await (await context({ ...DESKTOP, javaScriptEnabled: javaScript })).newPage();
    await askForLink(laptop, demo, 'ada@example.com');
    const match = ((await laptop.locator('.match-number strong').textContent()) ?? '').trim();
    assert.match(match, /^[1-9]\d$/, 'the asking page shows a 2-digit number');
    return { laptop, match };
  }

  /** The phone opens the mailed link; its confirm page. */
  async function phoneOpensMail(): Promise<Page> {
    const phone = await (await context(PHONE)).newPage();
    await phone.goto((await lastMail(demo)).url);
    await phone.getByRole('button', { name: 'Approve the other device' }).waitFor();
    return phone;
  }

  it('the phone types the number; the laptop tab lands on the dashboard by itself; the phone is not signed in', async () => {
    const { laptop, match } = await laptopAsks(true);
    await expectAccessible(laptop, 'check your email, with the number');
    await screenshot(laptop, 'cross-device-laptop-number');
    const phone = await phoneOpensMail();
    const confirmText = (await phone.textContent('main')) ?? '';
    assert.doesNotMatch(confirmText.replace(/\d+ (?:seconds|minutes|hours)/g, ''), new RegExp(`\\b${match}\\b`), 'the phone never shows the number');
    assert.match(confirmText, /Chrome on Linux|Chrome/);
    await expectAccessible(phone, 'the confirm page on another device');
    await screenshot(phone, 'cross-device-phone-confirm');
    await phone.getByLabel('Number shown on the other device').fill(match);
    await phone.getByRole('button', { name: 'Approve the other device' }).click();
    await phone.getByRole('heading', { name: 'Approved' }).waitFor();
    await expectAccessible(phone, 'approved');
    await screenshot(phone, 'cross-device-phone-approved');
    await laptop.waitForURL(`${demo.url}/dashboard`, { timeout: 15_000 });
    await screenshot(laptop, 'cross-device-laptop-dashboard');
    assert.equal(await signedIn(laptop.context(), demo), true);
    assert.equal(await signedIn(phone.context(), demo), false);
  });

  it('without JavaScript: "I approved it on my phone" says when it is too early, then collects', async () => {
    const { laptop, match } = await laptopAsks(false);
    await laptop.getByRole('button', { name: 'I approved it on my phone' }).click();
    await laptop.getByText('Not approved yet').waitFor();
    await screenshot(laptop, 'cross-device-laptop-not-yet');
    // axe needs script: the same state, with the same cookies, in a context that runs it.
    const checker = await (await context()).newPage();
    await checker.context().addCookies(await laptop.context().cookies());
    await checker.goto(laptop.url());
    await checker.getByText('Not approved yet').waitFor();
    await expectAccessible(checker, 'not approved yet');
    await checker.close();
    const phone = await phoneOpensMail();
    await phone.getByLabel('Number shown on the other device').fill(match);
    await phone.getByRole('button', { name: 'Approve the other device' }).click();
    await phone.getByRole('heading', { name: 'Approved' }).waitFor();
    await laptop.getByRole('button', { name: 'I approved it on my phone' }).click();
    await laptop.waitForURL(`${demo.url}/dashboard`);
    assert.equal(await signedIn(laptop.context(), demo), true);
  });

  it('a wrong number cancels the sign-in on both screens, and each says so accessibly', async () => {
    const { laptop, match } = await laptopAsks(true);
    const phone = await phoneOpensMail();
    await phone.getByLabel('Number shown on the other device').fill(match === '99' ? '10' : String(Number(match) + 1));
    await phone.getByRole('button', { name: 'Approve the other device' }).click();
    await phone.getByRole('heading', { name: 'Sign-in cancelled' }).waitFor();
    await expectAccessible(phone, 'sign-in cancelled');
    await screenshot(phone, 'cross-device-phone-cancelled');
    await laptop.getByText('This sign-in was cancelled or has expired').waitFor({ timeout: 10_000 });
    await expectAccessible(laptop, 'the asking page after a cancel');
    await screenshot(laptop, 'cross-device-laptop-cancelled');
    assert.equal(await signedIn(laptop.context(), demo), false);
  });
});
