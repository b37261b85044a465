// Regression: a nested `redirect` 5,000 levels deep was echoed as `input`; serialising the envelope
// overflowed the stack and the rejected handler promise killed an Express 4 process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import express4 from 'express4';
import express5 from 'express';
import session from 'express-session';
import fc from 'fast-check';
import request from 'supertest';
import { errorCatalogue } from '../../src/index.js';
import { createTestApp, detailsOf, expectError } from '../helpers/test-app.js';

const ENDPOINTS = ['/v1/auth/magic-link', '/v1/auth/verify', '/v1/auth/exchange', '/auth/magic-link/confirm'];
const nestedArray = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const nestedObject = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function startExpress4(): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/express4-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${match[1]}`, child, exited });
      }
    });
  });
}

describe('deep and wide bodies never crash a process', function () {
  this.timeout(60_000);

  it('Express 4: a redirect nested 5,000 and 30,000 levels → 422, the process stays up', async () => {
    const server = await startExpress4();
    try {
      for (const depth of [5_000, 30_000]) {
        const res = await fetch(`${server.url}/v1/auth/magic-link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"email":"ada@example.com","redirect":${nestedArray(depth)}}`,
        });
        assert.equal(res.status, 422, `depth ${depth}`);
        const body = (await res.json()) as { error: string; details: Array<Record<string, unknown>> };
        assert.equal(body.error, 'validation_error');
        assert.deepEqual(body.details, [{ loc: ['body', 'redirect'], msg: 'Input should be a valid string', type: 'string_type' }]);
      }
      // Every endpoint and every field, and another middleware's error that carries the whole body.
      for (const path of [...ENDPOINTS.filter((p) => p.startsWith('/v1/')), '/app/echo']) {
        for (const field of ['email', 'redirect', 'token', 'code']) {
          for (const value of [nestedArray(20_000), nestedObject(20_000)]) {
            const res = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"${field}":${value}}` });
            assert.ok(res.status === 422 || res.status === 413, `${path} ${field}: ${res.status}`);
            const text = await res.text();
            assert.ok(text.length < 2_000, 'nothing nested is echoed');
          }
        }
      }
      const alive = await fetch(`${server.url}/v1/auth/magic-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"ada@example.com"}',
      });
      assert.equal(alive.status, 202, 'the same process still answers');
    } finally {
      server.child.kill('SIGTERM');
    }
    const code = await server.exited;
    assert.notEqual(code, 70, 'an unhandled rejection ended the process');
  });

  it('a string input is echoed cut to 100 characters; objects and arrays never', async () => {
    const { app } = createTestApp();
    const long = `/${'x'.repeat(5000)}\\`;
    let res = await request(app).post('/v1/auth/magic-link').send({ email: 'ada@example.com', redirect: long });
    expectError(res, 'validation_error');
    assert.equal(detailsOf(res)[0]!.input, long.slice(0, 100));
    res = await request(app)
      .post('/v1/auth/magic-link')
      .send({ email: 'ada@example.com', redirect: { a: [1, { b: 2 }] } });
    expectError(res, 'validation_error');
    assert.equal(Object.hasOwn(detailsOf(res)[0]!, 'input'), false);
  });

  for (const [name, express] of [
    ['Express 4', express4 as unknown as typeof express5],
    ['Express 5', express5],
  ] as const) {
    it(`property (${name}): deep and wide JSON to every endpoint gets a catalogued answer`, async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown): void => void rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      const { magicLink, passport } = createTestApp();
      const app = express();
      app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
      app.use(passport.session());
      app.post('/v1/auth/magic-link', magicLink.requestLinkHandler());
      app.post('/v1/auth/verify', magicLink.verifyHandler());
      app.post('/v1/auth/exchange', magicLink.exchangeHandler());
      app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler());
      const server = app.listen(0);
      const statuses = new Set<number>(Object.values(errorCatalogue).map((entry) => entry.status));
      const shape = fc.oneof(
        fc.integer({ min: 1, max: 12_000 }).map((depth) => nestedArray(depth)),
        fc.integer({ min: 1, max: 12_000 }).map((depth) => nestedObject(depth)),
        fc.integer({ min: 1, max: 5_000 }).map((width) => `[${Array.from({ length: width }, () => '{"x":[1,2,{"y":"z"}]}').join(',')}]`),
        fc.integer({ min: 1, max: 3_000 }).map((width) => `{${Array.from({ length: width }, (_, i) => `"k${i}":[[{}]]`).join(',')}}`),
      );
      try {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...ENDPOINTS), fc.constantFrom('email', 'redirect', 'token', 'code', 'other'), shape, async (path, field, value) => {
            const form = path.startsWith('/auth/');
            const res = await request(server)
              .post(path)
              .set('Content-Type', form ? 'application/x-www-form-urlencoded' : 'application/json')
              .send(form ? `${field}=${encodeURIComponent(value)}` : `{"${field}":${value}}`);
            assert.ok(statuses.has(res.status) && res.status < 500, `${path} ${field}: ${res.status} ${res.text.slice(0, 200)}`);
            assert.ok(res.text.length < 4_000, 'the answer stays small');
          }),
          { numRuns: 60 },
        );
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(rejections, []);
      } finally {
        process.off('unhandledRejection', onRejection);
        server.close();
      }
    });
  }
});
