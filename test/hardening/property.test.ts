// Generated bodies, headers and content types against every endpoint: the answer is always a
// catalogue status with the exact envelope, invalid input never mails, and the server keeps answering.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import request from 'supertest';
import { errorCatalogue } from '../../src/index.js';
import { createTestApp } from '../helpers/test-app.js';

const ENVELOPE_KEYS = ['success', 'error', 'message', 'details', 'retry_after', 'doc_url', 'request_id', 'timestamp'];
const CATALOGUE_STATUSES = new Set<number>(Object.values(errorCatalogue).map((entry) => entry.status));

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    'application/xml',
    '',
  ),
  fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
);
const jsonBody = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc
    .record(
      { email: fc.oneof(fc.emailAddress(), fc.string(), fc.anything()), redirect: fc.oneof(fc.string(), fc.webPath(), fc.anything()) },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.record({ token: fc.oneof(fc.string({ minLength: 40, maxLength: 46 }), fc.anything()) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc
    .record(
      { email: fc.oneof(fc.emailAddress(), fc.anything()), code: fc.oneof(fc.stringMatching(/^\d{6}$/), fc.string(), fc.anything()) },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);
const body = fc.oneof(
  jsonBody,
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);
const requestIdHeader = fc.option(
  fc.string({ maxLength: 140 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
  { nil: undefined },
);

describe('property: any input gets a catalogued answer', function () {
  this.timeout(120_000);

  for (const path of ['/v1/auth/magic-link', '/v1/auth/verify', '/v1/auth/exchange', '/auth/magic-link/confirm']) {
    it(`POST ${path}`, async () => {
      const { app, outbox } = createTestApp({
        limits: {
          linkRequestsPerIp: 1_000_000,
          linkRequestsPerEmail: 1_000_000,
          failedVerifiesPerIp: 1_000_000,
          failedExchangesPerIp: 1_000_000,
          failedExchangesPerEmail: 1_000_000,
        },
      });
      const server = app.listen(0);
      try {
        await fc.assert(
          fc.asyncProperty(contentType, body, requestIdHeader, async (type, payload, id) => {
            const before = outbox.length;
            const req = request(server).post(path);
            if (type) req.set('Content-Type', type);
            if (id) req.set('X-Request-Id', id);
            const res = await req.send(payload);
            if (res.status === 202 || res.status === 200 || res.status === 303) return;
            assert.ok(CATALOGUE_STATUSES.has(res.status), `status ${res.status}`);
            assert.equal(outbox.length, before, 'no mail for invalid input');
            if (path.startsWith('/v1/')) {
              assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
              const parsed = JSON.parse(res.text) as Record<string, unknown>;
              assert.deepEqual(Object.keys(parsed), ENVELOPE_KEYS);
              assert.ok(res.status < 500, `a 5xx for the caller's input: ${res.text}`);
              assert.equal(res.headers['x-request-id'], parsed.request_id);
            } else {
              assert.match(String(res.headers['content-type']), /^text\/html/);
            }
          }),
          { numRuns: 300 },
        );
        assert.equal((await request(server).post('/v1/auth/magic-link').send({ email: 'still@alive.example' })).status, 202, 'the server still answers');
      } finally {
        server.close();
      }
    });
  }

  it('GET confirm with any query string answers a page, never a 5xx', async () => {
    // Unknown tokens count against the page budget; this test is about shapes, so lift it.
    const { app } = createTestApp({ limits: { failedVerifiesPerIp: 1_000_000 } });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 120 }), async (query) => {
        const res = await request(app).get(`/auth/magic-link/confirm?token=${encodeURIComponent(query)}&${encodeURIComponent(query)}=1`);
        assert.ok(res.status === 401 || res.status === 200, `status ${res.status}`);
      }),
      { numRuns: 200 },
    );
  });
});
