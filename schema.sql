-- express-magic-link schema 3, table prefix "magic_link_". Safe to run again.
CREATE TABLE IF NOT EXISTS magic_link_links (
  id text PRIMARY KEY,            -- "<tag>:<record id>"; the record id is the code's keyed digest
  check_digest text NOT NULL,     -- keyed digest of the whole token
  sealed text NOT NULL,           -- address, redirect and app data, encrypted under the token
  email_key text NOT NULL,        -- keyed digest of the address
  expires_at bigint NOT NULL,
  retain_until bigint NOT NULL,
  used_at bigint,
  generation integer NOT NULL DEFAULT 0,
  failures integer NOT NULL DEFAULT 0,
  bound_to text                   -- digest of the browser secret that redeemed it (confirm form)
);
CREATE INDEX IF NOT EXISTS magic_link_links_retain_until ON magic_link_links (retain_until);
CREATE TABLE IF NOT EXISTS magic_link_emails (
  email_key text PRIMARY KEY,
  generation integer NOT NULL DEFAULT 0,  -- a sign-in or a revoke adds one, burning older links
  failures integer NOT NULL DEFAULT 0,    -- wrong codes
  keep_until bigint NOT NULL,             -- outlives every link that compares against it
  revoked_below integer NOT NULL DEFAULT 0, -- links saved under a generation below this were revoked,
  revoked_at bigint                         -- at this time: they read as used
);
CREATE INDEX IF NOT EXISTS magic_link_emails_keep_until ON magic_link_emails (keep_until);
CREATE TABLE IF NOT EXISTS magic_link_limits (
  key text PRIMARY KEY,
  points integer NOT NULL,
  expire_at bigint
);
CREATE INDEX IF NOT EXISTS magic_link_limits_expire_at ON magic_link_limits (expire_at);
-- Schema 3: the cross-device attempt saved with a link (crossDevice), only digests and a payload
-- sealed under the asking browser's secret. link_check ties it to its link: a row left by an earlier
-- link under the same id never answers for a new one.
CREATE TABLE IF NOT EXISTS magic_link_attempts (
  id text PRIMARY KEY,
  link_check text NOT NULL,
  check_digest text NOT NULL,     -- keyed digest of the asking browser's secret
  match_digest text NOT NULL,     -- keyed digest of the match number
  sealed text NOT NULL,
  state text NOT NULL DEFAULT 'pending', -- pending, approved, denied, collected
  approved_at bigint,
  retain_until bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS magic_link_attempts_retain_until ON magic_link_attempts (retain_until);
CREATE TABLE IF NOT EXISTS magic_link_meta (name text PRIMARY KEY, value text NOT NULL);
INSERT INTO magic_link_meta (name, value) VALUES ('schema_version', '3')
  ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;

-- The server's clock in ms.
CREATE OR REPLACE FUNCTION magic_link_clock() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;

-- Past the caller's deadline (the server's clock): the caller has been answered, so write nothing.
-- Raised, not returned, so that every write the statement made is rolled back with it.
CREATE OR REPLACE FUNCTION magic_link_check_deadline(p_deadline bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_deadline IS NOT NULL AND magic_link_clock() > p_deadline THEN
    RAISE EXCEPTION 'express-magic-link: the call reached PostgreSQL after its deadline; it changed nothing' USING ERRCODE = 'P0M01';
  END IF;
END $$;

-- One address's operations run one at a time; a lock not had by the deadline fails the statement.
CREATE OR REPLACE FUNCTION magic_link_lock_email(p_email_key text, p_deadline bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM magic_link_check_deadline(p_deadline);
  IF p_deadline IS NOT NULL THEN
    PERFORM set_config('lock_timeout', greatest(1, p_deadline - magic_link_clock())::text || 'ms', true);
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('magic_link_' || p_email_key, 0));
END $$;

-- The address's live state (generation, failures), or zeros once it has outlived every link.
CREATE OR REPLACE FUNCTION magic_link_state(p_email_key text, p_now bigint, OUT generation integer, OUT failures integer) LANGUAGE sql STABLE AS $$
  SELECT coalesce(max(e.generation), 0), coalesce(max(e.failures), 0) FROM magic_link_emails e WHERE e.email_key = p_email_key AND e.keep_until > p_now
$$;

-- Adds one to the address's generation or wrong-code count, keeping the state until at least p_until.
CREATE OR REPLACE FUNCTION magic_link_bump(p_email_key text, p_field text, p_now bigint, p_until bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO magic_link_emails AS e (email_key, generation, failures, keep_until)
  VALUES (p_email_key, (p_field = 'generation')::int, (p_field = 'failures')::int, p_until)
  ON CONFLICT (email_key) DO UPDATE SET
    generation = CASE WHEN e.keep_until <= p_now THEN 0 ELSE e.generation END + (p_field = 'generation')::int,
    failures = CASE WHEN e.keep_until <= p_now THEN 0 ELSE e.failures END + (p_field = 'failures')::int,
    keep_until = greatest(CASE WHEN e.keep_until <= p_now THEN 0 ELSE e.keep_until END, p_until),
    revoked_below = CASE WHEN e.keep_until <= p_now THEN 0 ELSE e.revoked_below END,
    revoked_at = CASE WHEN e.keep_until <= p_now THEN NULL ELSE e.revoked_at END
$$;

-- When a link saved under p_generation was revoked, or null.
CREATE OR REPLACE FUNCTION magic_link_revoked_at(p_email_key text, p_generation integer, p_now bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT e.revoked_at FROM magic_link_emails e WHERE e.email_key = p_email_key AND e.keep_until > p_now AND p_generation < e.revoked_below
$$;

-- revoked: a new generation burns every link saved before, and the mark says they were revoked
-- (used), not expired; kept until p_until, as long as any link it burns could still work.
CREATE OR REPLACE FUNCTION magic_link_revoke(p_email_key text, p_now bigint, p_until bigint, p_deadline bigint, p_synchronous text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
  PERFORM magic_link_lock_email(p_email_key, p_deadline);
  PERFORM magic_link_bump(p_email_key, 'generation', p_now, p_until);
  UPDATE magic_link_emails SET revoked_below = generation, revoked_at = p_now WHERE email_key = p_email_key;
  PERFORM magic_link_check_deadline(p_deadline);
  RETURN 'revoked';
END $$;

-- Takes one point of each budget counter on the server's clock, or none (as the limiter does: a
-- window from the first take, blocked on the take that goes over). o_counter: the first counter
-- over (0-based), with o_ms_before_next; NULL when every point was taken.
CREATE OR REPLACE FUNCTION magic_link_take(p_keys text[], p_points integer[], p_window_ms bigint[], p_block_ms bigint[],
  OUT o_counter integer, OUT o_ms_before_next bigint) LANGUAGE plpgsql AS $$
DECLARE
  clock bigint := magic_link_clock();
  taken integer;
  i integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
    INSERT INTO magic_link_limits AS r (key, points, expire_at) VALUES (p_keys[i], 1, clock + p_window_ms[i])
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN r.expire_at <= clock THEN 1 ELSE r.points + 1 END,
      expire_at = CASE WHEN r.expire_at <= clock THEN clock + p_window_ms[i] ELSE r.expire_at END
    RETURNING r.points, r.expire_at - clock INTO taken, o_ms_before_next;
    IF taken > p_points[i] THEN
      IF p_block_ms[i] > 0 AND taken = p_points[i] + 1 THEN
        UPDATE magic_link_limits SET expire_at = clock + p_block_ms[i] WHERE key = p_keys[i];
        o_ms_before_next := p_block_ms[i];
      END IF;
      UPDATE magic_link_limits SET points = points - 1 WHERE key = ANY (p_keys[1 : i - 1]);
      o_counter := i - 1;
      RETURN;
    END IF;
  END LOOP;
  o_ms_before_next := NULL;
END $$;

-- Takes a point of each budget counter, then saves (schema 2; schema 1's save, without the
-- counters, is left in place so that processes still on it keep working through a rolling deploy):
-- o_status saved, id_taken (the id belongs to a
-- record still retained; the points are given back), or over_budget (o_counter, o_ms_before_next).
CREATE OR REPLACE FUNCTION magic_link_save(p_id text, p_check text, p_sealed text, p_email_key text, p_expires_at bigint, p_retain_until bigint,
  p_now bigint, p_revoke_others boolean, p_deadline bigint, p_synchronous text,
  p_counter_keys text[], p_counter_points integer[], p_counter_window_ms bigint[], p_counter_block_ms bigint[],
  OUT o_status text, OUT o_counter integer, OUT o_ms_before_next bigint) LANGUAGE plpgsql AS $$
DECLARE
  st record;
BEGIN
  IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
  PERFORM magic_link_check_deadline(p_deadline);
  SELECT * INTO o_counter, o_ms_before_next FROM magic_link_take(p_counter_keys, p_counter_points, p_counter_window_ms, p_counter_block_ms);
  IF o_counter IS NOT NULL THEN o_status := 'over_budget'; RETURN; END IF;
  PERFORM magic_link_lock_email(p_email_key, p_deadline);
  IF EXISTS (SELECT 1 FROM magic_link_links WHERE id = p_id AND retain_until > p_now) THEN
    UPDATE magic_link_limits SET points = points - 1 WHERE key = ANY (p_counter_keys);
    o_status := 'id_taken';
    RETURN;
  END IF;
  IF p_revoke_others THEN PERFORM magic_link_bump(p_email_key, 'generation', p_now, p_expires_at);
  ELSE UPDATE magic_link_emails SET keep_until = greatest(keep_until, p_expires_at) WHERE email_key = p_email_key AND keep_until > p_now;
  END IF;
  SELECT * INTO st FROM magic_link_state(p_email_key, p_now);
  INSERT INTO magic_link_links AS l (id, check_digest, sealed, email_key, expires_at, retain_until, used_at, generation, failures, bound_to)
  VALUES (p_id, p_check, p_sealed, p_email_key, p_expires_at, p_retain_until, NULL, st.generation, st.failures, NULL)
  ON CONFLICT (id) DO UPDATE SET check_digest = EXCLUDED.check_digest, sealed = EXCLUDED.sealed, email_key = EXCLUDED.email_key,
    expires_at = EXCLUDED.expires_at, retain_until = EXCLUDED.retain_until, used_at = NULL, generation = EXCLUDED.generation,
    failures = EXCLUDED.failures, bound_to = NULL;
  PERFORM magic_link_check_deadline(p_deadline);
  o_status := 'saved';
END $$;

-- Takes one point of each budget counter (take), then redeems, and gives the points back on
-- success. status: over_budget (counter, ms_before_next), not_found, already_used, expired, redeemed.
CREATE OR REPLACE FUNCTION magic_link_redeem(p_id text, p_checks text[], p_now bigint, p_burn_others boolean, p_link_ttl_ms bigint,
  p_bindings text[], p_replay_ms bigint, p_deadline bigint, p_synchronous text,
  p_counter_keys text[], p_counter_points integer[], p_counter_window_ms bigint[], p_counter_block_ms bigint[],
  OUT o_status text, OUT o_sealed text, OUT o_email_key text, OUT o_expires_at bigint, OUT o_retain_until bigint, OUT o_replayed boolean,
  OUT o_counter integer, OUT o_ms_before_next bigint) LANGUAGE plpgsql AS $$
DECLARE
  link record;
  st record;
BEGIN
  IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
  PERFORM magic_link_check_deadline(p_deadline);
  SELECT * INTO o_counter, o_ms_before_next FROM magic_link_take(p_counter_keys, p_counter_points, p_counter_window_ms, p_counter_block_ms);
  IF o_counter IS NOT NULL THEN o_status := 'over_budget'; RETURN; END IF;
  SELECT l.email_key INTO o_email_key FROM magic_link_links l WHERE l.id = p_id AND l.check_digest = ANY (p_checks) AND l.retain_until > p_now;
  IF NOT FOUND THEN o_status := 'not_found'; RETURN; END IF;
  PERFORM magic_link_lock_email(o_email_key, p_deadline);
  -- Read again under the lock: a concurrent redeem may have won meanwhile.
  SELECT * INTO link FROM magic_link_links l WHERE l.id = p_id FOR UPDATE;
  o_sealed := link.sealed; o_expires_at := link.expires_at; o_retain_until := link.retain_until; o_replayed := false;
  IF link.used_at IS NOT NULL THEN
    IF link.bound_to = ANY (p_bindings) AND p_now - link.used_at <= p_replay_ms THEN
      UPDATE magic_link_limits SET points = points - 1 WHERE key = ANY (p_counter_keys);
      o_status := 'redeemed'; o_replayed := true; RETURN;
    END IF;
    o_status := 'already_used'; RETURN;
  END IF;
  IF magic_link_revoked_at(link.email_key, link.generation, p_now) IS NOT NULL THEN o_status := 'already_used'; RETURN; END IF;
  SELECT * INTO st FROM magic_link_state(link.email_key, p_now);
  IF p_now >= link.expires_at OR link.generation <> st.generation OR st.failures < link.failures THEN o_status := 'expired'; RETURN; END IF;
  UPDATE magic_link_links SET used_at = p_now, bound_to = p_bindings[1] WHERE id = p_id;
  IF p_burn_others THEN PERFORM magic_link_bump(link.email_key, 'generation', p_now, p_now + p_link_ttl_ms); END IF;
  UPDATE magic_link_limits SET points = points - 1 WHERE key = ANY (p_counter_keys);
  PERFORM magic_link_check_deadline(p_deadline);
  o_status := 'redeemed';
END $$;

-- redeemed | already_used | dead (too many wrong tries, expired or burnt) | wrong_code (counted
-- against every code the address has).
CREATE OR REPLACE FUNCTION magic_link_exchange(p_id text, p_email_key text, p_now bigint, p_burn_others boolean, p_max_failures integer,
  p_link_ttl_ms bigint, p_deadline bigint, p_synchronous text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  link record;
  st record;
BEGIN
  IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
  PERFORM magic_link_lock_email(p_email_key, p_deadline);
  SELECT * INTO link FROM magic_link_links l WHERE l.id = p_id FOR UPDATE;
  IF NOT FOUND OR link.email_key <> p_email_key OR p_now >= link.retain_until THEN
    PERFORM magic_link_bump(p_email_key, 'failures', p_now, p_now + p_link_ttl_ms);
    PERFORM magic_link_check_deadline(p_deadline);
    RETURN 'wrong_code';
  END IF;
  SELECT * INTO st FROM magic_link_state(p_email_key, p_now);
  IF st.failures - link.failures >= p_max_failures THEN RETURN 'dead'; END IF;
  IF link.used_at IS NOT NULL OR magic_link_revoked_at(p_email_key, link.generation, p_now) IS NOT NULL THEN RETURN 'already_used'; END IF;
  IF p_now >= link.expires_at OR link.generation <> st.generation OR st.failures < link.failures THEN RETURN 'dead'; END IF;
  UPDATE magic_link_links SET used_at = p_now WHERE id = p_id;
  IF p_burn_others THEN PERFORM magic_link_bump(p_email_key, 'generation', p_now, p_now + p_link_ttl_ms); END IF;
  PERFORM magic_link_check_deadline(p_deadline);
  RETURN 'redeemed';
END $$;

-- Saves the attempt of a link just saved (called in the save's statement, so both or neither).
CREATE OR REPLACE FUNCTION magic_link_save_attempt(p_id text, p_link_check text, p_check text, p_match text, p_sealed text, p_retain_until bigint)
  RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO magic_link_attempts AS a (id, link_check, check_digest, match_digest, sealed, state, approved_at, retain_until)
  VALUES (p_id, p_link_check, p_check, p_match, p_sealed, 'pending', NULL, p_retain_until)
  ON CONFLICT (id) DO UPDATE SET link_check = EXCLUDED.link_check, check_digest = EXCLUDED.check_digest, match_digest = EXCLUDED.match_digest,
    sealed = EXCLUDED.sealed, state = 'pending', approved_at = NULL, retain_until = EXCLUDED.retain_until;
  RETURN true;
END $$;

-- A cross-device approval from another browser, as one redeem of the link (under the address's
-- lock, like every redeem): approved (the number matched: used, collectable, the address's other
-- links burnt as a sign-in burns them), denied (a wrong number, or none: "Not me"; used, the attempt
-- dead), not_found (no such link, or one without an attempt), already_used or expired.
CREATE OR REPLACE FUNCTION magic_link_approve(p_id text, p_checks text[], p_now bigint, p_burn_others boolean, p_link_ttl_ms bigint, p_match text,
  p_deadline bigint, p_synchronous text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  link record;
  att record;
  st record;
BEGIN
  IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
  PERFORM magic_link_check_deadline(p_deadline);
  SELECT l.email_key INTO link FROM magic_link_links l WHERE l.id = p_id AND l.check_digest = ANY (p_checks) AND l.retain_until > p_now;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  PERFORM magic_link_lock_email(link.email_key, p_deadline);
  SELECT * INTO link FROM magic_link_links l WHERE l.id = p_id FOR UPDATE;
  SELECT * INTO att FROM magic_link_attempts a WHERE a.id = p_id AND a.link_check = link.check_digest FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  IF link.used_at IS NOT NULL OR magic_link_revoked_at(link.email_key, link.generation, p_now) IS NOT NULL THEN RETURN 'already_used'; END IF;
  SELECT * INTO st FROM magic_link_state(link.email_key, p_now);
  IF p_now >= link.expires_at OR link.generation <> st.generation OR st.failures < link.failures THEN RETURN 'expired'; END IF;
  UPDATE magic_link_links SET used_at = p_now WHERE id = p_id;
  IF p_match IS NULL OR p_match <> att.match_digest THEN
    UPDATE magic_link_attempts SET state = 'denied' WHERE id = p_id;
    PERFORM magic_link_check_deadline(p_deadline);
    RETURN 'denied';
  END IF;
  UPDATE magic_link_attempts SET state = 'approved', approved_at = p_now WHERE id = p_id;
  IF p_burn_others THEN PERFORM magic_link_bump(link.email_key, 'generation', p_now, p_now + p_link_ttl_ms); END IF;
  PERFORM magic_link_check_deadline(p_deadline);
  RETURN 'approved';
END $$;

-- The asking browser's view of its attempt, answering only to its own check (o_state NULL: none).
-- p_step collect: an approved attempt within p_window_ms of its approval becomes collected
-- (o_taken); release: a collected one is approved again; read changes nothing.
CREATE OR REPLACE FUNCTION magic_link_attempt(p_id text, p_check text, p_now bigint, p_step text, p_window_ms bigint, p_deadline bigint, p_synchronous text,
  OUT o_state text, OUT o_sealed text, OUT o_expires_at bigint, OUT o_used_at bigint, OUT o_approved_at bigint,
  OUT o_revoked boolean, OUT o_burnt boolean, OUT o_taken boolean) LANGUAGE plpgsql AS $$
DECLARE
  link record;
  att record;
  st record;
BEGIN
  IF p_step <> 'read' THEN
    IF p_synchronous IS NOT NULL THEN PERFORM set_config('synchronous_commit', p_synchronous, true); END IF;
    PERFORM magic_link_check_deadline(p_deadline);
  END IF;
  SELECT l.email_key INTO link FROM magic_link_links l JOIN magic_link_attempts a ON a.id = l.id AND a.link_check = l.check_digest
    WHERE l.id = p_id AND a.check_digest = p_check AND l.retain_until > p_now;
  IF NOT FOUND THEN RETURN; END IF;
  IF p_step <> 'read' THEN
    PERFORM magic_link_lock_email(link.email_key, p_deadline);
    SELECT * INTO att FROM magic_link_attempts a WHERE a.id = p_id FOR UPDATE;
  ELSE
    SELECT * INTO att FROM magic_link_attempts a WHERE a.id = p_id;
  END IF;
  SELECT * INTO link FROM magic_link_links l WHERE l.id = p_id;
  SELECT * INTO st FROM magic_link_state(link.email_key, p_now);
  o_revoked := magic_link_revoked_at(link.email_key, link.generation, p_now) IS NOT NULL;
  o_burnt := link.generation <> st.generation OR st.failures < link.failures;
  o_state := att.state;
  o_taken := false;
  IF p_step = 'collect' AND att.state = 'approved' AND NOT o_revoked AND p_now - att.approved_at < p_window_ms THEN
    UPDATE magic_link_attempts SET state = 'collected' WHERE id = p_id;
    o_state := 'collected';
    o_taken := true;
  ELSIF p_step = 'release' AND att.state = 'collected' THEN
    UPDATE magic_link_attempts SET state = 'approved' WHERE id = p_id;
    o_state := 'approved';
  END IF;
  IF p_step <> 'read' THEN PERFORM magic_link_check_deadline(p_deadline); END IF;
  o_sealed := att.sealed; o_expires_at := link.expires_at; o_used_at := link.used_at; o_approved_at := att.approved_at;
END $$;

-- Deletes up to p_batch rows past their retention from each table; -1 when another process holds
-- the prune lock (one pruner at a time).
CREATE OR REPLACE FUNCTION magic_link_prune(p_now bigint, p_batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  removed integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('magic_link_prune', 0)) THEN RETURN -1; END IF;
  DELETE FROM magic_link_links WHERE id IN (SELECT id FROM magic_link_links WHERE retain_until <= p_now LIMIT p_batch);
  GET DIAGNOSTICS removed = ROW_COUNT;
  DELETE FROM magic_link_emails WHERE email_key IN (SELECT email_key FROM magic_link_emails WHERE keep_until <= p_now LIMIT p_batch);
  DELETE FROM magic_link_attempts WHERE id IN (SELECT id FROM magic_link_attempts WHERE retain_until <= p_now LIMIT p_batch);
  DELETE FROM magic_link_limits WHERE key IN (SELECT key FROM magic_link_limits WHERE expire_at <= magic_link_clock() LIMIT p_batch);
  RETURN removed;
END $$;
