// Unit: which client addresses become limiter keys, and how IPv6 is grouped.
import assert from 'node:assert/strict';
import { clientIpKeys, parseAddress } from '../../src/sign-in/client-ip.js';

describe('sign-in/client-ip', () => {
  for (const [raw, address] of [
    ['192.0.2.13', '192.0.2.13'],
    ['192.0.2.13:4444', '192.0.2.13'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['192.000.002.012', null],
    ['x'.repeat(8_000), null],
    ['unknown', null],
    ['', null],
    [undefined, null],
  ] as const) {
    it(`${JSON.stringify(raw?.slice(0, 20))} → ${String(address)}`, () => assert.equal(parseAddress(raw), address));
  }

  it('IPv4 is its own key; IPv4-mapped IPv6 folds to it', () => {
    assert.deepEqual(clientIpKeys('192.0.2.1', 64, 48), { narrow: '192.0.2.1', wide: null });
    assert.deepEqual(clientIpKeys('::ffff:192.0.2.1', 64, 48), { narrow: '192.0.2.1', wide: null });
  });

  it('IPv6 is keyed by its /64 and its /48', () => {
    assert.deepEqual(clientIpKeys('2001:db8:77:1:aaaa::1', 64, 48), { narrow: '2001:db8:77:1:0:0:0:0/64', wide: '2001:db8:77:0:0:0:0:0/48' });
    assert.equal(clientIpKeys('2001:db8:77:2::9', 64, 48).wide, clientIpKeys('2001:db8:77:ffff::9', 64, 48).wide);
    assert.equal(clientIpKeys('2001:db8::1', 48, 48).wide, null, 'no wider prefix when they are equal');
  });

  it('no address is one shared key', () => assert.deepEqual(clientIpKeys(null, 64, 48), { narrow: 'unknown', wide: null }));
});
