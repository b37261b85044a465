import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MemoryTokenStore } from '../../src/index.js';
import { describeTokenStore } from '../helpers/token-store-conformance.js';

describeTokenStore('MemoryTokenStore', () => {
  const store = new MemoryTokenStore();
  return { store, cleanup: () => store.close() };
});

const key = (id: string) => ({ tag: 'abc', id, check: 'k' });
const record = (expiresAt: number, retainUntil: number) => ({ sealed: 's', emailKey: 'e', expiresAt, retainUntil, usedAt: null });
const at = (now: number) => ({ now, revokeOthers: false });

describe('MemoryTokenStore', () => {
  it('is bounded: past maxRecords it prunes dead records first, then drops the oldest', async () => {
    const store = new MemoryTokenStore({ maxRecords: 3, now: () => 500 });
    await store.save(key('dead'), record(100, 200), at(500));
    await store.save(key('a'), record(1_000, 5_000), at(500));
    await store.save(key('b'), record(1_000, 5_000), at(500));
    await store.save(key('c'), record(1_000, 5_000), at(500));
    assert.equal(store.size, 3);
    assert.equal(await store.peek(key('dead'), 0), null, 'the dead record went first');
    await store.save(key('d'), record(1_000, 5_000), at(500));
    assert.equal(store.size, 3);
    assert.equal(await store.peek(key('a'), 0), null, 'then the oldest live one');
    assert.notEqual(await store.peek(key('d'), 0), null);
    store.close();
  });

  it('prune() drops records past their retention', async () => {
    let now = 0;
    const store = new MemoryTokenStore({ now: () => now });
    await store.save(key('x'), record(100, 1_000), at(0));
    await store.save(key('y'), record(100, 2_000), at(0));
    now = 1_500;
    assert.equal(store.prune(), 1);
    assert.equal(store.size, 1);
    store.close();
  });

  it('prunes on its timer', async () => {
    let now = 0;
    const store = new MemoryTokenStore({ now: () => now, pruneIntervalMs: 10 });
    await store.save(key('x'), record(100, 1_000), at(0));
    now = 2_000;
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(store.size, 0);
    store.close();
  });

  it('its prune timer does not keep the process alive', () => {
    const script = "import('./src/index.ts').then(({ MemoryTokenStore }) => { new MemoryTokenStore({ pruneIntervalMs: 10 }); })";
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });

  it('warns once when used with NODE_ENV=production', () => {
    const script =
      "process.env.NODE_ENV='production'; import('./src/index.ts').then(({ MemoryTokenStore }) => { new MemoryTokenStore().close(); new MemoryTokenStore().close(); })";
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(result.status, 0);
    assert.equal(result.stderr.match(/MemoryTokenStore keeps links in this process only/g)?.length, 1, result.stderr);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => new MemoryTokenStore({ maxRecords: 0 }), { name: 'TypeError', message: /`maxRecords`.*whole number/ });
    assert.throws(() => new MemoryTokenStore({ maxRecord: 5 } as never), { name: 'TypeError', message: /Did you mean `maxRecords`/ });
  });
});
