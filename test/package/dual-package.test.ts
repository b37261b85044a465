// The dual-package hazard: an app that `import`s the package and also `require`s it (directly or
// through a dependency) holds two copies. An error thrown by one is rendered by the other's
// errorHandler() as itself, never as a generic 401 or 500.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import express from 'express';
import request from 'supertest';
import type * as Source from '../../src/index.js';

type Package = typeof Source;
// Paths held in variables: the built copies are loaded at run time, whatever the type checker sees.
const esmEntry = new URL('../../dist/esm/index.js', import.meta.url).href;
const cjsEntry = new URL('../../dist/cjs/index.js', import.meta.url).pathname;
const esm = (await import(esmEntry)) as Package;
const cjs = createRequire(import.meta.url)(cjsEntry) as Package;

describe('ESM and CommonJS copies in one app', () => {
  assert.notEqual(esm.MagicLinkError, cjs.MagicLinkError, 'two copies are loaded');

  for (const [from, to, thrower, handler] of [
    ['ESM', 'CommonJS', esm, cjs],
    ['CommonJS', 'ESM', cjs, esm],
  ] as const) {
    it(`a MagicLinkError from the ${from} copy is rendered by the ${to} errorHandler() with its own code`, async () => {
      const app = express();
      app.get('/boom', () => {
        throw new thrower.MagicLinkError('magic_link_expired');
      });
      app.use(handler.errorHandler({ onError: () => undefined }));
      const res = await request(app).get('/boom');
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'magic_link_expired');
      assert.ok(new thrower.MagicLinkError('magic_link_expired') instanceof handler.MagicLinkError);
      assert.ok(!(new Error('x') instanceof handler.MagicLinkError));
    });
  }
});
