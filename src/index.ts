// The package's public surface; everything else is internal.
export { MagicLink, type MagicLinkHandler } from './magic-link.js';
export type { LinkSent } from './http/request-link.js';
export { MagicLinkStrategy, type MagicLinkStrategyOptions, type MagicLinkAuthInfo } from './strategy.js';
export { errorHandler, type ErrorHandlerOptions } from './http/error-handler.js';
export { requestId } from './http/request-id.js';
export { renderMagicLinkMail, type MagicLinkMail, type MagicLinkMailOptions, type MagicLinkMailWords } from './mail/render.js';
export {
  MagicLinkError,
  errorCatalogue,
  isErrorCode,
  type CatalogueEntry,
  type ErrorCode,
  type MagicLinkErrorOptions,
  type ValidationIssue,
} from './errors.js';
export type { ErrorEnvelope } from './http/respond.js';
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './stores/memory-store.js';
export { RedisTokenStore, type RedisTokenStoreOptions } from './stores/redis-store.js';
export type { RedisClient } from './stores/redis-client.js';
export type {
  BudgetCounter,
  BudgetedRedeemResult,
  EmailKey,
  ExchangeOptions,
  ExchangeResult,
  LimitOptions,
  Mailer,
  MagicLinkEvent,
  MagicLinkEventBase,
  MagicLinkEventType,
  MagicLinkMessage,
  MagicLinkOptions,
  LinkData,
  SignInDetails,
  RedeemOptions,
  RedeemResult,
  SaveOptions,
  TokenKey,
  TokenRecord,
  TokenStore,
  VerifyCallback,
} from './types.js';
