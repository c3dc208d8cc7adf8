/**
 * Schema migrations, applied in order; entry i takes user_version i to i+1.
 * Never edit a shipped entry: add a new one.
 */
export const MIGRATIONS: string[] = [
  // 1: block index over append-only packs, object records.
  `
  CREATE TABLE packs (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL DEFAULT 0,      -- bytes fsynced and indexed; anything past this is crash garbage
    holder TEXT,                          -- 'host:pid' of the writer appending to it, NULL when free
    lease_until INTEGER NOT NULL DEFAULT 0 -- ms since epoch; a lease past this is stale
  );
  CREATE TABLE blocks (
    cid BLOB PRIMARY KEY,                 -- binary CID
    pack INTEGER NOT NULL REFERENCES packs(id),
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX blocks_pack ON blocks(pack);
  CREATE TABLE records (
    cid TEXT PRIMARY KEY,                 -- CID of the signed dag-cbor record
    kind TEXT NOT NULL,
    root TEXT,
    owner TEXT NOT NULL,
    name TEXT,
    mime TEXT,
    size INTEGER,
    time INTEGER NOT NULL,
    bytes BLOB NOT NULL
  );
  CREATE INDEX records_root ON records(root);
  CREATE INDEX records_owner ON records(owner, name);
  CREATE TABLE record_tags (
    record TEXT NOT NULL REFERENCES records(cid) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (record, tag)
  ) WITHOUT ROWID;
  CREATE INDEX record_tags_tag ON record_tags(tag);
  `,
  // 2: the peer table (DESIGN.md "Network"; the peers issue adds records, stamps and caps).
  `
  CREATE TABLE peers (
    did TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    services TEXT NOT NULL DEFAULT '',
    user_keys TEXT NOT NULL DEFAULT '[]',  -- JSON array of did:key
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    rtt_ms INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failed contacts
    bad_blocks INTEGER NOT NULL DEFAULT 0, -- blocks it sent that did not verify
    state TEXT NOT NULL DEFAULT 'alive' CHECK (state IN ('alive', 'suspect', 'dead')),
    learned_from TEXT
  );
  `,
  // 3: how many nodes each object should live on (push --replicas), so repair keeps that K.
  `
  CREATE TABLE object_replicas (
    root TEXT PRIMARY KEY,
    replicas INTEGER NOT NULL CHECK (replicas BETWEEN 1 AND 64)
  ) WITHOUT ROWID;
  `,
  // 4: one node per home. Taken in an IMMEDIATE transaction, so of two \`serve\`s
  // starting at once exactly one wins; a dead holder's row is taken over.
  `
  CREATE TABLE node_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,                  -- 'host:pid'
    since INTEGER NOT NULL
  );
  `,
  // erase (issue 5): tombstones of erased object records, kept so an erased
  // object is never accepted or replicated again, served to peers in seq
  // order for anti-entropy; erasure_sync is how far each peer's list was read.
  `
  CREATE TABLE erasures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- local order, the cursor peers page by
    cid TEXT NOT NULL UNIQUE,              -- CID of the signed erase record
    target TEXT NOT NULL UNIQUE,           -- CID of the object record it erases
    root TEXT NOT NULL,
    owner TEXT NOT NULL,
    time INTEGER NOT NULL,                 -- the erase record's time (ms)
    bytes BLOB NOT NULL,                   -- the signed erase record
    record BLOB NOT NULL,                  -- the erased object record (proves the owner)
    received INTEGER NOT NULL
  );
  CREATE INDEX erasures_root ON erasures(root);
  CREATE TABLE erasure_sync (
    peer TEXT PRIMARY KEY,                 -- peer did
    after INTEGER NOT NULL                 -- highest seq of theirs applied here
  ) WITHOUT ROWID;
  `,
  // Block codecs (issue 6, draft 003 "Block protocol"): how each block is stored.
  // codec 0 = raw bytes (every block before this); 1 gzip, 2 delta, 3 delta+gzip
  // (src/lib/codec). depth = length of the delta chain under it (0 unless delta).
  // block_bases: which blocks a delta block copies from, so a base is never
  // deleted while a block still needs it (dependents are found by base).
  `
  ALTER TABLE blocks ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE blocks ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE block_bases (
    cid BLOB NOT NULL,                    -- the delta block
    base BLOB NOT NULL,                   -- a block it copies from
    PRIMARY KEY (cid, base)
  ) WITHOUT ROWID;
  CREATE INDEX block_bases_base ON block_bases(base);
  `,
  // search + web of trust (issue 5): the full-text index over object records
  // (kept in sync by triggers, so whatever writes or deletes records, e.g.
  // erase, keeps it right) and the trust records a node knows.
  `
  CREATE VIRTUAL TABLE object_search USING fts5(
    name, tags, mime, owner,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  INSERT INTO object_search (rowid, name, tags, mime, owner)
    SELECT r.rowid, coalesce(r.name, ''), coalesce((SELECT group_concat(tag, ' ') FROM record_tags WHERE record = r.cid), ''), coalesce(r.mime, ''), r.owner
    FROM records r WHERE r.kind = 'object';
  CREATE TRIGGER object_search_ins AFTER INSERT ON records WHEN new.kind = 'object' BEGIN
    INSERT INTO object_search (rowid, name, tags, mime, owner)
      VALUES (new.rowid, coalesce(new.name, ''), coalesce((SELECT group_concat(tag, ' ') FROM record_tags WHERE record = new.cid), ''), coalesce(new.mime, ''), new.owner);
  END;
  CREATE TRIGGER object_search_del AFTER DELETE ON records BEGIN
    DELETE FROM object_search WHERE rowid = old.rowid;
  END;
  CREATE TRIGGER object_search_tag_ins AFTER INSERT ON record_tags BEGIN
    UPDATE object_search SET tags = coalesce((SELECT group_concat(tag, ' ') FROM record_tags WHERE record = new.record), '')
      WHERE rowid = (SELECT rowid FROM records WHERE cid = new.record);
  END;
  CREATE TRIGGER object_search_tag_del AFTER DELETE ON record_tags BEGIN
    UPDATE object_search SET tags = coalesce((SELECT group_concat(tag, ' ') FROM record_tags WHERE record = old.record), '')
      WHERE rowid = (SELECT rowid FROM records WHERE cid = old.record);
  END;
  CREATE TABLE trust_records (
    owner TEXT PRIMARY KEY,               -- did:key that signed it; only its newest record is kept
    cid TEXT NOT NULL,
    time INTEGER NOT NULL,
    bytes BLOB NOT NULL,                  -- the signed dag-cbor record, for forwarding
    received INTEGER NOT NULL             -- ms since epoch this node stored it (sync freshness)
  ) WITHOUT ROWID;
  CREATE TABLE trust_edges (
    truster TEXT NOT NULL REFERENCES trust_records(owner) ON DELETE CASCADE,
    trusted TEXT NOT NULL,
    weight REAL NOT NULL CHECK (weight > 0),
    PRIMARY KEY (truster, trusted)
  ) WITHOUT ROWID;
  CREATE INDEX trust_edges_trusted ON trust_edges(trusted);
  CREATE INDEX records_kind_time ON records(kind, time); -- search with no words: newest first
  `,
  // peers (#4, discovery): each peer's latest signed peer record and the liveness schedule.
  `
  ALTER TABLE peers ADD COLUMN record BLOB;                       -- latest verified peer record (dag-cbor), NULL for peers added by URL
  ALTER TABLE peers ADD COLUMN record_time INTEGER;               -- its time (ms); an older record for the did is refused
  ALTER TABLE peers ADD COLUMN urls TEXT NOT NULL DEFAULT '[]';   -- JSON: every URL the record announces (url is the one dialled)
  ALTER TABLE peers ADD COLUMN address TEXT;                      -- IP the url resolved to when admitted (/24 and /16 caps)
  ALTER TABLE peers ADD COLUMN next_ping INTEGER NOT NULL DEFAULT 0; -- ms; liveness pings are due after this
  ALTER TABLE peers ADD COLUMN backoff_ms INTEGER NOT NULL DEFAULT 0; -- current gap between pings (grows with failures)
  ALTER TABLE peers ADD COLUMN dead_since INTEGER;                -- ms; a peer dead for long enough is forgotten
  `,
  // erase work that must survive a crash, and what a stranger's erase must not take
  // (issue 20, points 1 and 4). erasures.sweep: what is left to do about the erased
  // object's blocks here, NULL once done: 'record' (this node held the erased record: its
  // blocks go where nothing remaining here needs them) or 'cache' (the decision about a
  // pulled copy of the root, which goes only when no live record of it is known here or
  // on the peers). pulled: roots of objects fetched for a pull through the node, held
  // with no record; an erase never takes a block one of them reaches, except the copy of
  // its own root once that decision is made. maintenance: work owed to the store, e.g.
  // 'compact' once an erase deleted blocks, until a compaction pass has run to its end.
  `
  ALTER TABLE erasures ADD COLUMN sweep TEXT CHECK (sweep IN ('record', 'cache'));
  CREATE INDEX erasures_sweep ON erasures(sweep) WHERE sweep IS NOT NULL;
  CREATE TABLE pulled (
    root TEXT PRIMARY KEY,                 -- root CID of a pulled copy
    time INTEGER NOT NULL                  -- ms since epoch of the pull that fetched it
  ) WITHOUT ROWID;
  CREATE TABLE maintenance (
    task TEXT PRIMARY KEY,                 -- 'compact'
    gen INTEGER NOT NULL                   -- bumped each time the work is owed again; done clears only the gen it saw
  ) WITHOUT ROWID;
  `,
  // store safety (issue 20, points 2 and 3). block_pins: blocks a live writer has
  // taken (found already indexed, or written and committed) and not yet handed to
  // a record; the erase sweep never deletes a pinned block, so a push that
  // deduplicated against a block cannot lose it to a concurrent erase
  // (docs/storage.md "Pins"). retired_packs: ids of pack rows compaction deleted,
  // filled by a trigger; only their files may be unlinked without a row, so a
  // pack file the index does not know (a lost or emptied polar.db) is never
  // taken for compaction's leftover.
  `
  CREATE TABLE block_pins (
    holder TEXT NOT NULL,                  -- 'host:pid' of the writer's process
    writer INTEGER NOT NULL,               -- the writer within that process
    cid BLOB NOT NULL,
    lease_until INTEGER NOT NULL,          -- ms; only read for a holder on another host (a shared home)
    PRIMARY KEY (holder, writer, cid)
  ) WITHOUT ROWID;
  CREATE INDEX block_pins_cid ON block_pins(cid);
  CREATE TABLE retired_packs (
    id INTEGER PRIMARY KEY                 -- a pack whose row compaction deleted; its file, if any, is dead
  );
  CREATE TRIGGER packs_retire AFTER DELETE ON packs BEGIN
    INSERT OR IGNORE INTO retired_packs (id) VALUES (old.id);
  END;
  `,
  // hostile peers (#20): a peer dropped for bad blocks stays out for a back-off that doubles with each drop.
  `
  CREATE TABLE peer_bans (
    did TEXT PRIMARY KEY,                 -- the dropped peer's node key
    address TEXT,                         -- the IP it was admitted from (matched too, except loopback unless limitLoopback)
    strikes INTEGER NOT NULL,             -- drops so far; the ban lasts base × 2^(strikes-1)
    until INTEGER NOT NULL                -- ms since epoch; registrations from the did (or the address) are refused before this
  ) WITHOUT ROWID;
  CREATE INDEX peer_bans_address ON peer_bans(address);
  `,
]
