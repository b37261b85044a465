// An express-session store whose saves fail while `failing` is set: a session store down right
// after a link was spent.
import session from 'express-session';

export class FlakySessionStore extends session.MemoryStore {
  failing = false;

  override set(sid: string, data: session.SessionData, callback?: (error?: unknown) => void): void {
    if (this.failing) return void callback?.(new Error('ERR the session store is down'));
    super.set(sid, data, callback);
  }
}
