// What a browser does with a mailed link: open the confirm page (keeping the cookie it sets), then
// submit the form it rendered. The form's hidden fields are read from the page, never made up.
import assert from 'node:assert/strict';
import request from 'supertest';

type App = Parameters<typeof request>[0];
export type Browser = ReturnType<typeof request.agent>;

export interface ConfirmForm {
  token: string;
  page: string;
  nonce: string;
}

const field = (html: string, name: string): string => {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  assert.ok(match, `the confirm page has no ${name} field: ${html.slice(0, 300)}`);
  return match[1]!;
};

/** A browser of its own (a cookie jar) for `app`. */
export const browser = (app: App): Browser => request.agent(app);

/** Opens the confirm page in `client` and returns its form's fields. */
export async function openConfirmPage(client: Browser, token: string): Promise<ConfirmForm> {
  const res = await client.get(`/auth/magic-link/confirm?token=${encodeURIComponent(token)}`);
  assert.equal(res.status, 200, `confirm page: ${res.status} ${res.text.slice(0, 300)}`);
  return { token: field(res.text, 'token'), page: field(res.text, 'page'), nonce: field(res.text, 'nonce') };
}

/** Submits a confirm form as `client`. */
export function submitConfirm(client: Browser, form: ConfirmForm, headers: Record<string, string> = {}): request.Test {
  return client
    .post('/auth/magic-link/confirm')
    .set(headers)
    .type('form')
    .send({ ...form });
}

/** Opens the page and presses "Sign in", in `client` (a browser) or a fresh browser for an app. */
export async function confirmInBrowser(client: App | Browser, token: string, headers: Record<string, string> = {}): Promise<request.Response> {
  const agent = client instanceof request.agent ? client : browser(client);
  return submitConfirm(agent, await openConfirmPage(agent, token), headers);
}
