import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { errorHandler, MagicLinkError, requestId } from '../../src/index.js';
import { createTestApp, expectError } from '../helpers/test-app.js';

function appThrowing(thrown: () => unknown, options?: Parameters<typeof errorHandler>[0]) {
  const app = express();
  app.use(requestId());
  app.use(express.json({ limit: '64kb' }));
  app.all('/boom', () => {
    throw thrown();
  });
  app.post('/echo', (req, res) => void res.json(req.body));
  app.use(errorHandler({ onError: () => undefined, ...options }));
  return app;
}

describe('error envelope and errorHandler', () => {
  describe('request ids', () => {
    it('reuses a well-formed incoming X-Request-Id on errors and successes', async () => {
      const { app } = createTestApp();
      const failed = await request(app).post('/v1/auth/verify').set('X-Request-Id', 'abc-123_x.y').send({});
      expectError(failed, 'validation_error');
      assert.equal(failed.body.request_id, 'abc-123_x.y');
      const ok = await request(app).post('/v1/auth/magic-link').set('X-Request-Id', 'trace.42').send({ email: 'alice@example.com' });
      assert.equal(ok.headers['x-request-id'], 'trace.42');
    });
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', 'ünï']) {
      it(`replaces an incoming id like ${JSON.stringify(bad.slice(0, 20))} with req_ + ULID`, async () => {
        const res = await request(appThrowing(() => new Error('x')))
          .get('/boom')
          .set('X-Request-Id', bad);
        expectError(res, 'internal_error');
        assert.match(res.body.request_id, /^req_[0-9A-HJKMNP-TV-Z]{26}$/);
      });
    }
    it('accepts exactly 128 characters', async () => {
      const id = 'a'.repeat(128);
      const res = await request(appThrowing(() => new Error('x')))
        .get('/boom')
        .set('X-Request-Id', id);
      assert.equal(res.body.request_id, id);
    });
  });

  describe('renders whatever other middleware throws', () => {
    const cases: Array<[string, () => unknown, Parameters<typeof expectError>[1]]> = [
      ['an Error', () => new Error('secret detail'), 'internal_error'],
      ['a string', () => 'just a string', 'internal_error'],
      ['a number', () => 42, 'internal_error'],
      ['an object without status', () => ({ foo: 1 }), 'internal_error'],
      ["status 'abc'", () => Object.assign(new Error('x'), { status: 'abc' }), 'internal_error'],
      ['status 1000', () => Object.assign(new Error('x'), { status: 1000 }), 'internal_error'],
      ['status 99', () => Object.assign(new Error('x'), { statusCode: 99 }), 'internal_error'],
      ['status 404', () => Object.assign(new Error('Not Found'), { status: 404 }), 'resource_not_found'],
      ['status 401', () => Object.assign(new Error('nope'), { status: 401 }), 'session_not_found'],
      ['a MagicLinkError', () => new MagicLinkError('magic_link_expired'), 'magic_link_expired'],
    ];
    for (const [name, thrown, code] of cases) {
      it(`${name} → ${code}`, async () => {
        const res = await request(appThrowing(thrown)).get('/boom');
        expectError(res, code);
        assert.doesNotMatch(res.text, /secret detail|at .*\.ts|stack/);
      });
    }
    it('a MagicLinkError with retryAfter sends Retry-After', async () => {
      const res = await request(appThrowing(() => new MagicLinkError('service_unavailable', { retryAfter: 7 }))).get('/boom');
      expectError(res, 'service_unavailable', 7);
    });
    it('details are passed through as a list', async () => {
      const issue = { loc: ['query', 'x'], msg: 'Field required', type: 'missing' };
      const res = await request(appThrowing(() => new MagicLinkError('validation_error', { details: [issue] }))).get('/boom');
      expectError(res, 'validation_error');
      assert.deepEqual(res.body.details, [issue]);
    });
  });

  describe('body-parser failures from an app-wide parser', () => {
    it('malformed JSON → invalid_request_body', async () => {
      expectError(
        await request(appThrowing(() => null))
          .post('/echo')
          .set('Content-Type', 'application/json')
          .send('{nope'),
        'invalid_request_body',
      );
    });
    it('over 64 KiB → payload_too_large', async () => {
      expectError(
        await request(appThrowing(() => null))
          .post('/echo')
          .send({ pad: 'x'.repeat(70_000) }),
        'payload_too_large',
      );
    });
    it('an unsupported charset → invalid_request_body', async () => {
      expectError(
        await request(appThrowing(() => null))
          .post('/echo')
          .set('Content-Type', 'application/json; charset=koi8-r')
          .send('{}'),
        'invalid_request_body',
      );
    });
  });

  it('uses docsBaseUrl for doc_url', async () => {
    const res = await request(appThrowing(() => new MagicLinkError('invalid_email'), { docsBaseUrl: 'https://example.com/errors/' })).get('/boom');
    assert.equal(res.body.doc_url, 'https://example.com/errors/invalid_email');
  });

  it('reports 5xx errors to onError with the request id, and survives a throwing onError', async () => {
    const seen: Array<[unknown, string]> = [];
    const thrown = new Error('boom');
    let res = await request(appThrowing(() => thrown, { onError: (error, id) => void seen.push([error, id]) })).get('/boom');
    assert.deepEqual(seen, [[thrown, res.body.request_id]]);
    res = await request(
      appThrowing(() => thrown, {
        onError: () => {
          throw new Error('logger down');
        },
      }),
    ).get('/boom');
    expectError(res, 'internal_error');
  });

  it('an error after headers were sent cuts the response off: a partial body never looks complete', async () => {
    const app = express();
    app.set('env', 'test'); // keeps Express's final handler from printing the stack
    app.get('/partial', (_req, res, next) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('partial');
      next(new Error('late'));
    });
    const reported: unknown[] = [];
    app.use(errorHandler({ onError: (error) => void reported.push(error) }));
    // What reaches the next error handler (Express's own, which cuts the response off).
    const passedOn: unknown[] = [];
    app.use((error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      passedOn.push(error);
      next(error);
    });
    const res = await request(app)
      .get('/partial')
      .catch((error: Error) => error);
    // A chunked body ended normally would read as a whole 200 'partial'; the client must see an abort.
    assert.ok(res instanceof Error, `expected an aborted response, got ${res instanceof Error ? '' : res.status}`);
    // The original error is handed on untouched: no envelope was attempted on a started response.
    assert.deepEqual(
      passedOn.map((error) => (error as Error).message),
      ['late'],
    );
    assert.deepEqual(reported, []);
  });

  it('the timestamp is UTC to the second', async () => {
    const res = await request(appThrowing(() => new Error('x'))).get('/boom');
    const stamp = Date.parse(res.body.timestamp);
    assert.ok(Math.abs(Date.now() - stamp) < 5_000);
  });

  it('errorHandler used without being called throws a TypeError that says so', () => {
    const app = express();
    app.use(errorHandler as unknown as express.ErrorRequestHandler);
    assert.throws(() => (errorHandler as unknown as (req: unknown) => unknown)({ method: 'GET', url: '/', headers: {} }), {
      name: 'TypeError',
      message: /errorHandler\(\)/,
    });
  });
});
