// Unit: tokens, keyed digests and sealing.
import assert from 'node:assert/strict';
import { isWellFormedCode, isWellFormedToken, Keyring, newCode, newToken, seal, TOKEN_LENGTH, unseal } from '../../src/sign-in/tokens.js';

const A = 'k3Jz9QvH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw=';
const B = 'Zq7mP2vL9xR4tN8wB3kD6hF1jS5gC0yUeA2oIrTbVnQ=';

describe('sign-in/tokens', () => {
  it('a token is 46 base64url characters: tag, record id, 192 random bits', () => {
    const token = newToken('abc', 'ABCDEFGHIJK');
    assert.equal(token.length, TOKEN_LENGTH);
    assert.ok(token.startsWith('abcABCDEFGHIJK'));
    assert.ok(isWellFormedToken(token));
    assert.notEqual(newToken('abc', 'ABCDEFGHIJK'), token);
    assert.ok(!isWellFormedToken(token.slice(1)) && !isWellFormedToken(`${token.slice(1)}.`));
  });

  it('codes are 6 digits', () => {
    for (let i = 0; i < 100; i++) assert.ok(isWellFormedCode(newCode()));
    assert.ok(!isWellFormedCode('12345') && !isWellFormedCode('1234567') && !isWellFormedCode('12a456'));
  });

  it('digests depend on the secret; the first secret makes new ones, all check tokens', () => {
    const one = new Keyring([A]);
    const two = new Keyring([B, A]);
    assert.notEqual(one.emailDigest('a@example.com'), two.emailDigest('a@example.com'));
    assert.equal(one.emailDigest('a@example.com'), two.emailDigest('a@example.com', 1));
    const key = two.tokenKey('x'.repeat(46));
    assert.deepEqual(key.formerChecks, [one.tokenKey('x'.repeat(46)).check]);
    assert.equal(one.tokenKey('x'.repeat(46)).formerChecks, undefined);
    assert.notEqual(one.ipPseudonym('192.0.2.1'), two.ipPseudonym('192.0.2.1'));
  });

  it('sealing: only the token opens it, and lengths fall into a few buckets', () => {
    const token = newToken('abc', 'ABCDEFGHIJK');
    const sealed = seal(token, { email: 'a@example.com', redirect: '/x' });
    assert.deepEqual(unseal(token, sealed), { email: 'a@example.com', redirect: '/x' });
    assert.equal(unseal(newToken('abc', 'ABCDEFGHIJK'), sealed), null);
    const lengths = (emails: string[]) => new Set(emails.map((email) => seal(token, { email, redirect: null }).length));
    assert.equal(lengths(['a@b.co', 'someone.longer@example.com', 'x'.repeat(10) + '@example.org']).size, 1, 'short addresses seal to one length');
    assert.equal(lengths(['x'.repeat(20) + '@example.org', 'y'.repeat(40) + '@example.org']).size, 1, 'and longer ones to the next');
  });

  it('the digests and the seal are those of earlier releases: links and records stored before an upgrade still open', () => {
    // Known answers from the build before the digests moved to key objects and one-shot hashing:
    // any change to how a digest or a seal key is derived fails here, not in a user's store.
    const keyring = new Keyring(['bK3v9QzH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw', 'former-secret-former-secret-former-secret-12']);
    const token = `AbCdEfGhIjKlMn${'o'.repeat(32)}`;
    const digest = keyring.emailDigest('alice@example.com');
    assert.equal(digest, 'VnO2-C9WV-vy1a6TfZRgQLJSgSP0wNqDKqD24TXvntY');
    assert.equal(keyring.emailDigest('alice@example.com', 1), 'fZjEMd7ryZXhfh25dWCYrIRprdYKQn-_Ujeeeh1KpjI');
    assert.equal(keyring.codeDigest(digest, '123456'), 'hHNUF4_vsQc');
    assert.equal(keyring.ipPseudonym('203.0.113.7'), 'mzVAuGxTVUh1Oqft');
    assert.deepEqual(keyring.tokenKey(token), { tag: 'AbC', id: 'dEfGhIjKlMn', check: 'gX3InDSxLKU', formerChecks: ['B7w2pHz4j4g'] });
    assert.equal(keyring.browserDigest('nonce', 's'.repeat(43)), 'SDW4M74Bk4uJMbEQIX-t0g');
    const sealed = 'itWVgvjNStW2NvcKmbClVakaGoSHPzmPLQl4qppzHHXcyygVBLQjy0YP-X8EBnEmCqd5f7LK6otLSp5fF3f6mFkSwEgHktZiKoDqaw';
    assert.equal(seal(token, { email: 'alice@example.com', redirect: '/welcome', data: '{"plan":"pro"}' }), sealed);
    assert.deepEqual(unseal(token, sealed), { email: 'alice@example.com', redirect: '/welcome', data: '{"plan":"pro"}' });
  });
});
