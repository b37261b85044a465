// Who is asking, as the sign-in rules see it: a validated address and the request id, nothing else.
import type { Request } from 'express';
import { warnOnce } from '../warnings.js';
import { parseAddress } from '../sign-in/client-ip.js';
import type { Client } from '../sign-in/records.js';
import { requestIdOf } from './request-id.js';

/** Stable codes of the deployment warnings (README, "Warnings"). */
export const WARNINGS = {
  trustProxyTrue: 'EXPRESS_MAGIC_LINK_TRUST_PROXY_TRUE',
  forwardedIgnored: 'EXPRESS_MAGIC_LINK_FORWARDED_IGNORED',
} as const;

function checkProxySetting(req: Request): void {
  const setting: unknown = req.app?.get('trust proxy');
  if (setting === true) {
    warnOnce(
      WARNINGS.trustProxyTrue,
      "Express `trust proxy` is true: req.ip is the left-most X-Forwarded-For entry, which the client writes itself, so it can pick a fresh rate-limit key per request. Set `app.set('trust proxy', 1)` (the number of proxies in front of the app) instead.",
    );
  } else if ((setting === false || setting === undefined) && req.headers['x-forwarded-for'] !== undefined) {
    warnOnce(
      WARNINGS.forwardedIgnored,
      "Requests carry X-Forwarded-For but Express `trust proxy` is off: every user behind the proxy shares the proxy's rate-limit budget (the 21st sign-in of the hour is refused). Set `app.set('trust proxy', 1)` for one proxy.",
    );
  }
}

/**
 * The client's address: `req.ip` (so Express `trust proxy` decides) when it is a real address,
 * else the socket's. Ports, brackets and junk in a forwarded header never become keys of their own.
 */
export function clientOf(req: Request): Client {
  checkProxySetting(req);
  return { ip: parseAddress(req.ip) ?? parseAddress(req.socket?.remoteAddress), requestId: requestIdOf(req, req.res) };
}
