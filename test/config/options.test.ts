// Unit: defaults are the same however "no options" is spelled (omitted, {}, undefined, null prototype).
import assert from 'node:assert/strict';
import { normalizeOptions } from '../../src/config/options.js';
import type { MagicLinkOptions } from '../../src/index.js';

const required = { baseUrl: 'https://app.example.com', mailer: { send: async () => undefined } };
const comparable = (options: MagicLinkOptions) => {
  const { store: _store, secrets: _secrets, mailer: _mailer, onError: _onError, publicUser: _publicUser, now: _now, ...rest } = normalizeOptions(options);
  return JSON.parse(JSON.stringify({ ...rest, baseUrl: rest.baseUrl.href })) as unknown;
};

describe('config/options', () => {
  it('defaults: omitted, undefined values and a null-prototype object give the same config', () => {
    const omitted = comparable(required);
    const undefinedValues = comparable({ ...required, ttlSeconds: undefined, limits: undefined, keyPrefix: undefined });
    const nullProto = comparable(Object.assign(Object.create(null) as object, required));
    const emptyLimits = comparable({ ...required, limits: {} });
    assert.deepEqual(undefinedValues, omitted);
    assert.deepEqual(nullProto, omitted);
    assert.deepEqual(emptyLimits, omitted);
    assert.equal((omitted as { ttlSeconds: number }).ttlSeconds, 900);
    assert.deepEqual((omitted as { limits: unknown }).limits, {
      linkRequestsPerIp: 20,
      linkRequestsPerEmail: 5,
      failedVerifiesPerIp: 20,
      failedExchangesPerIp: 10,
      failedExchangesPerEmail: 20,
      failedExchangesTotal: 1000,
      attemptChecksPerIp: 1200,
      windowSeconds: 3600,
      blockSeconds: 3600,
    });
  });

  it('the config is frozen, and a memory-store app gets a random secret per process', () => {
    const config = normalizeOptions(required);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.limits));
    assert.notEqual(normalizeOptions(required).secrets[0], config.secrets[0]);
  });
});
