// The behaviours pinned in the fast suite on the memory store, run on each shared backend.
import assert from 'node:assert/strict';
import { TEST_SECRET } from '../../helpers/test-app.js';
import { secretRotation, wrongCodeBurst } from '../../helpers/scenarios.js';
import { SHARED_BACKENDS, type Backend } from '../../helpers/shared-backends.js';

for (const { name, start } of SHARED_BACKENDS) {
  describe(`on ${name}`, function () {
    this.timeout(60_000);
    let backend: Backend;
    before(async () => {
      backend = await start();
    });
    beforeEach(() => backend.reset());
    after(() => backend?.stop());

    it('secret rotation: links and codes issued under the old secret still sign in; new ones use the new secret', async () => {
      await secretRotation(backend.options, TEST_SECRET);
    });

    it('a concurrent burst of 110 wrong codes gets at most its budget of 10 evaluated', async () => {
      await wrongCodeBurst({ ...backend.options, secret: TEST_SECRET });
      const tries = await backend.wrongTries();
      assert.ok(tries <= 10, `the store evaluated ${tries} wrong codes`);
    });
  });
}
