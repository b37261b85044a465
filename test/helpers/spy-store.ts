// A TokenStore that counts every call, to prove that some answers never touch the store.
import { MemoryTokenStore, type TokenStore } from '../../src/index.js';

export interface SpyStore extends TokenStore {
  calls: Record<'save' | 'peek' | 'redeem' | 'exchange' | 'delete', number>;
  total: () => number;
}

export function createSpyStore(): SpyStore {
  const inner = new MemoryTokenStore();
  const calls = { save: 0, peek: 0, redeem: 0, exchange: 0, delete: 0 };
  return {
    calls,
    total: () => calls.save + calls.peek + calls.redeem + calls.exchange + calls.delete,
    save: (...args) => (calls.save++, inner.save(...args)),
    peek: (...args) => (calls.peek++, inner.peek(...args)),
    redeem: (...args) => (calls.redeem++, inner.redeem(...args)),
    exchange: (...args) => (calls.exchange++, inner.exchange(...args)),
    delete: (...args) => (calls.delete++, inner.delete(...args)),
  };
}
