// The demo's pages as a browser without JavaScript uses them: plain form posts answered with
// redirects, the state carried in the session (never in a URL), errors tied to their fields.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createExampleApp } from '../../example-server/app.js';
import { readSettings } from '../../example-server/settings.js';

const ORIGIN = 'http://localhost:3000';

function demo(env: NodeJS.ProcessEnv = {}) {
  const example = createExampleApp(readSettings({ PORT: '3000', ...env }), { log: () => undefined });
  const browser = request.agent(example.app);
  const page = async () => (await browser.get('/').set('Host', 'localhost:3000').set('Accept', 'text/html')).text;
  const post = (path: string, form: Record<string, string>) => browser.post(path).set('Origin', ORIGIN).type('form').send(form);
  return { ...example, browser, page, post };
}

describe('example server pages (no JavaScript)', () => {
  it('the sign-in form posts, redirects without the address in the URL, and names the address it sent to', async () => {
    const { post, page, outbox, close } = demo();
    const res = await post('/', { email: 'Ada@Example.com' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/');
    assert.equal(outbox.length, 1);
    const html = await page();
    assert.match(html, /<h1 tabindex="-1" autofocus>Check your email<\/h1>/);
    assert.match(html, /We sent a sign-in link to <strong>ada@example\.com<\/strong>\. It works once and expires in 15 minutes\./);
    assert.match(html, /Wrong address\? Change it/);
    assert.match(html, /<section aria-labelledby="code-heading">/, 'the code entry is open, not folded');
    assert.doesNotMatch(html, /aria-live/, 'no live region ticking');
    await close();
  });

  it('the resend lock belongs to the address: the same address waits a minute, a corrected one gets its link at once', async () => {
    const { post, page, outbox, close } = demo();
    await post('/', { email: 'ada@exmaple.com' });
    await post('/', { email: 'ada@exmaple.com' });
    assert.equal(outbox.length, 1, 'the same address within a minute: no second mail');
    assert.match(await page(), /We just sent a link to this address\. Please try again in (5\d|60) seconds\./);
    await post('/change-address', {});
    const changing = await page();
    assert.match(changing, /<input id="email" name="email" type="email" autocomplete="email" required value="ada@exmaple\.com" autofocus>/);
    await post('/', { email: 'ada@example.com' });
    assert.equal(outbox.length, 2, 'the corrected address got its link at once');
    assert.equal(outbox[1]!.to, 'ada@example.com');
    assert.match(await page(), /sent a sign-in link to <strong>ada@example\.com<\/strong>/);
    await close();
  });

  it('an empty field and a bad address each say what is wrong, tied to the field', async () => {
    const { post, page, close } = demo();
    await post('/', { email: '  ' });
    let html = await page();
    assert.match(html, /<p id="email-error" class="error">Please enter your email address\.<\/p>/);
    assert.match(html, /aria-describedby="email-error" aria-invalid="true" autofocus>/);
    await post('/', { email: 'not-an-address' });
    html = await page();
    assert.match(html, /That does not look like an email address/);
    assert.match(html, /value="not-an-address"/, 'what was typed is kept');
    await close();
  });

  it('a code pasted as "123 456" signs in; sign-out is a form', async () => {
    const { post, browser, outbox, close } = demo();
    await post('/', { email: 'ada@example.com' });
    const code = outbox[0]!.code;
    const res = await post('/code', { email: 'ada@example.com', code: `${code.slice(0, 3)} ${code.slice(3)}` });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/dashboard');
    assert.equal((await browser.get('/v1/me')).status, 200);
    const out = await post('/sign-out', {});
    assert.equal(out.status, 303);
    assert.equal((await browser.get('/v1/me')).status, 401);
    await close();
  });

  it('after 5 wrong codes the page says the code no longer works, also for the right one', async () => {
    const { post, page, outbox, close } = demo();
    await post('/', { email: 'ada@example.com' });
    const right = outbox[0]!.code;
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i++) {
      await post('/code', { email: 'ada@example.com', code: wrong });
      assert.match(await page(), /That code is not right, or it has expired/);
    }
    await post('/code', { email: 'ada@example.com', code: wrong });
    assert.match(await page(), /too many wrong codes: the code from this email no longer works\. Send a new link/);
    const res = await post('/code', { email: 'ada@example.com', code: right });
    assert.equal(res.headers.location, '/');
    assert.match(await page(), /no longer works/);
    await close();
  });

  it('a short lifetime is said in seconds, never "0 minutes"', async () => {
    const { page, close } = demo({ MAGIC_LINK_TTL: '30' });
    assert.match(await page(), /expires in 30 seconds/);
    await close();
  });

  it('a browser asking for a missing page gets a page, an API client the envelope', async () => {
    const { browser, close } = demo();
    const html = await browser.get('/no/such/page').set('Accept', 'text/html');
    assert.equal(html.status, 404);
    assert.match(html.headers['content-type'] ?? '', /text\/html/);
    assert.match(html.text, /Page not found/);
    const json = await browser.get('/no/such/page');
    assert.equal(json.body.error, 'resource_not_found');
    await close();
  });

  it('a cross-site form post is refused before anything is sent', async () => {
    const { browser, outbox, close } = demo();
    const res = await browser.post('/').set('Origin', 'https://evil.example').type('form').send({ email: 'ada@example.com' });
    assert.equal(res.status, 403);
    assert.match(res.text, /blocked/);
    assert.equal(outbox.length, 0);
    await close();
  });
});
