// Unit: canonical addresses (keys, mail, the verify callback) and mailboxes (the link budget only).
import assert from 'node:assert/strict';
import { mailboxOf, maskEmail, normalizeEmail } from '../../src/sign-in/email.js';

describe('sign-in/email', () => {
  it('normalizes: trimmed, NFC, lower-cased, IDN domain in punycode, no trailing dot', () => {
    assert.deepEqual(normalizeEmail('  Ada@Example.COM. '), { ok: true, email: 'ada@example.com' });
    assert.deepEqual(normalizeEmail('ada@bücher.example'), { ok: true, email: 'ada@xn--bcher-kva.example' });
    assert.deepEqual(normalizeEmail('e\u0301@example.com'), { ok: true, email: '\u00e9@example.com' });
  });

  for (const bad of [
    '',
    'no-at',
    '@example.com',
    'a@',
    'a@@example.com',
    'a b@example.com',
    'a@example',
    'a@example.123',
    'a\r\n@example.com',
    'a..b@example.com',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(normalizeEmail(bad).ok, false));
  }

  it('refuses over 254 octets as too_long', () => {
    assert.deepEqual(normalizeEmail(`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`), { ok: false, reason: 'too_long' });
  });

  it('folds a mailbox: +tag, Gmail dots and googlemail.com; other domains keep their dots', () => {
    assert.equal(mailboxOf('a.b+news@googlemail.com'), 'ab@gmail.com');
    assert.equal(mailboxOf('ab@gmail.com'), 'ab@gmail.com');
    assert.equal(mailboxOf('a.b+x@example.com'), 'a.b@example.com');
    assert.equal(mailboxOf('+only@example.com'), '+only@example.com');
  });

  it('masks to the first character and the domain', () => {
    assert.equal(maskEmail('alice@example.com'), 'a•••@example.com');
    assert.equal(maskEmail('ünï@xn--bcher-kva.example'), 'ü•••@bücher.example');
  });
});
