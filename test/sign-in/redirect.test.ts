// Unit: only same-origin paths are redirect targets.
import assert from 'node:assert/strict';
import { checkRedirect } from '../../src/sign-in/redirect.js';

const base = new URL('https://app.example.com/app/');

describe('sign-in/redirect', () => {
  for (const good of ['/', '/dashboard', '/a/b?c=d#e', '/app/settings']) {
    it(`accepts ${good}`, () => assert.deepEqual(checkRedirect(good, base), { ok: true }));
  }
  for (const bad of [
    '//evil.example',
    '/\\evil.example',
    'https://evil.example',
    'dashboard',
    '/.//evil',
    '/..//evil',
    '/a/..//evil',
    '/%2f/evil',
    '/%5cevil',
    '/\n',
    'x'.repeat(3000),
  ]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () => assert.equal(checkRedirect(bad, base).ok, false));
  }
});
