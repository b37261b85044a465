// What the library asks of a store beyond the public contract: the methods it must have, and the
// internal capabilities of a store that keeps the rate-limit counters in the same server as the
// links (one Redis, PostgreSQL), so a verify takes its budget and redeems in one round trip, and a
// link request takes its budgets and saves in one. Internal: they publish the counters' layout.
import type { RedeemOptions, RedeemResult, SaveOptions, TokenKey, TokenRecord, TokenStore } from './contract.js';

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

/** Internal: the first counter (in list order) with no point left, and when it has one again. */
export interface OverBudget {
  readonly status: 'over_budget';
  readonly counter: number;
  readonly msBeforeNext: number;
}

/** Internal. */
export type BudgetedRedeemResult = RedeemResult | OverBudget;

/**
 * Internal capability of a store that keeps the counters in the same server as the links (one Redis,
 * PostgreSQL), in one atomic step: a counter with no point left refuses before the link is read;
 * otherwise the redeem runs, and one that fails costs a point of each counter.
 */
export interface BudgetedRedeem {
  redeemWithBudget(key: TokenKey, options: RedeemOptions, counters: readonly BudgetCounter[]): Promise<BudgetedRedeemResult>;
}

export function offersBudgetedRedeem(store: TokenStore): store is TokenStore & BudgetedRedeem {
  return typeof (store as Partial<BudgetedRedeem>).redeemWithBudget === 'function';
}

/**
 * Internal capability (one Redis, PostgreSQL): `save` under the link request's budgets, in one atomic step. A
 * counter with no point left refuses and nothing is saved; a save takes a point of each; a refused
 * id (`false`, draw again) takes none.
 */
export interface BudgetedSave {
  saveWithBudget(key: TokenKey, record: TokenRecord, options: SaveOptions, counters: readonly BudgetCounter[]): Promise<boolean | OverBudget>;
}

export function offersBudgetedSave(store: TokenStore): store is TokenStore & BudgetedSave {
  return typeof (store as Partial<BudgetedSave>).saveWithBudget === 'function';
}

/** The methods every store must have; derived from the type, so a new one cannot be forgotten here. */
export const REQUIRED_STORE_METHODS = ['save', 'peek', 'redeem', 'exchange', 'delete'] as const satisfies readonly Exclude<
  keyof TokenStore,
  OptionalCapability
>[];
type OptionalCapability = 'inProcess' | 'createLimiter' | 'revoke' | 'approve' | 'attempt';
// Compile-time: the list above names every required method of TokenStore.
type Missing = Exclude<keyof TokenStore, (typeof REQUIRED_STORE_METHODS)[number] | OptionalCapability>;
const everyMethodListed: [Missing] extends [never] ? true : never = true;
void everyMethodListed;
