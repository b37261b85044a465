// What the library asks of a store beyond the public contract: the methods it must have, and the
// internal capability of a store that keeps the rate-limit counters in the same server as the links
// (one Redis, PostgreSQL), so a verify takes its budget and redeems in one round trip. Internal: it
// publishes the counters' layout.
import type { RedeemOptions, RedeemResult, TokenKey, TokenStore } from './contract.js';

/**
 * A rate-limit counter as a store that keeps them sees it: `points` per `windowMs`, blocked for
 * `blockMs` once a take goes over. Internal: the shape of `redeemWithBudget`.
 */
export interface BudgetCounter {
  readonly key: string;
  readonly points: number;
  readonly windowMs: number;
  readonly blockMs: number;
}

/** Internal. */
export type BudgetedRedeemResult = RedeemResult | { readonly status: 'over_budget'; readonly counter: number; readonly msBeforeNext: number };

/**
 * Internal capability of a store that keeps the counters in the same server as the links (one Redis,
 * PostgreSQL): take one point of each counter, then redeem, in one atomic step; give the points back
 * when the redeem succeeds. A counter over its points refuses before the link is read.
 */
export interface BudgetedRedeem {
  redeemWithBudget(key: TokenKey, options: RedeemOptions, counters: readonly BudgetCounter[]): Promise<BudgetedRedeemResult>;
}

export function offersBudgetedRedeem(store: TokenStore): store is TokenStore & BudgetedRedeem {
  return typeof (store as Partial<BudgetedRedeem>).redeemWithBudget === 'function';
}

/** The methods every store must have; derived from the type, so a new one cannot be forgotten here. */
export const REQUIRED_STORE_METHODS = ['save', 'peek', 'redeem', 'exchange', 'delete'] as const satisfies readonly Exclude<
  keyof TokenStore,
  OptionalCapability
>[];
type OptionalCapability = 'inProcess' | 'createLimiter' | 'revoke';
// Compile-time: the list above names every required method of TokenStore.
type Missing = Exclude<keyof TokenStore, (typeof REQUIRED_STORE_METHODS)[number] | OptionalCapability>;
const everyMethodListed: [Missing] extends [never] ? true : never = true;
void everyMethodListed;
