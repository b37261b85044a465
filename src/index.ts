// The package's public surface, each name exported once; everything else is internal.
export { MagicLink, type MagicLinkHandler } from './magic-link.js';
export { MagicLinkStrategy, type MagicLinkStrategyOptions } from './strategy.js';
export { errorHandler, type ErrorHandlerOptions } from './http/error-handler.js';
export { requestId } from './http/request-id.js';
export { renderMagicLinkMail, type MagicLinkMail, type MagicLinkMailOptions, type MagicLinkMailWords } from './mail/render.js';
export {
  MagicLinkError,
  errorCatalogue,
  isErrorCode,
  type CatalogueEntry,
  type ErrorCode,
  type LimitCode,
  type MagicLinkErrorOptions,
  type ValidationIssue,
} from './errors.js';
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './stores/memory-store.js';
export { RedisTokenStore, type RedisTokenStoreOptions } from './stores/redis-store.js';
export type { RedisClient } from './stores/redis-client.js';
export { PostgresTokenStore, migrate, type PostgresTokenStoreOptions } from './stores/postgres-store.js';
export type { PostgresClient, PostgresResult } from './stores/postgres-client.js';
// The store contract, whole: every type in contract.ts is public (what the library asks beyond it is in capabilities.ts).
export type * from './stores/contract.js';
export type {
  ErrorEnvelope,
  LimitOptions,
  LinkData,
  AttemptStatus,
  LinkIssued,
  LinkSent,
  Mailer,
  MagicLinkAuthInfo,
  MagicLinkEvent,
  MagicLinkEventBase,
  MagicLinkEventType,
  MagicLinkMessage,
  MagicLinkOptions,
  RequestLinkHandlerOptions,
  SignInDetails,
  VerifyCallback,
} from './types.js';
