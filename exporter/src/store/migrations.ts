// Versioned schema. Append new migrations; never edit one that has shipped.
// PRAGMA user_version holds the applied version, PRAGMA application_id marks a Lanscape store.
export const APPLICATION_ID = 0x4c4e5343; // "LNSC"

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /**
   * Runs with foreign key enforcement off and checks every foreign key before committing: for
   * table rebuilds (SQLite's 12-step ALTER TABLE), where dropping the old table with enforcement
   * on would run its ON DELETE CASCADE / SET NULL actions on the rows that refer to it.
   */
  readonly rebuildsTables?: boolean;
}

/** The SQL that rebuilds a table with a new definition, keeping its rows (same columns, same order). */
function rebuild(table: string, columns: string, after: string): string {
  return `
      CREATE TABLE ${table}_rebuild (${columns});
      INSERT INTO ${table}_rebuild SELECT * FROM ${table};
      DROP TABLE ${table};
      ALTER TABLE ${table}_rebuild RENAME TO ${table};
      ${after}`;
}

/**
 * Sets a table's AUTOINCREMENT high-water mark to the largest id it has, or that other rows or the
 * audit log still mention (ids deleted before the upgrade that something may still refer to).
 */
function seedSequence(table: string, ...mentions: string[]): string {
  const ids = [`SELECT max(id) FROM ${table}`, ...mentions].map((q) => `coalesce((${q}), 0)`);
  return `
      DELETE FROM sqlite_sequence WHERE name = '${table}';
      INSERT INTO sqlite_sequence (name, seq) VALUES ('${table}', max(0, ${ids.join(', ')}));`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ipam core: subnets, addresses, ranges, audit log',
    sql: `
      CREATE TABLE subnets (
        id INTEGER PRIMARY KEY,
        cidr TEXT NOT NULL UNIQUE,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        prefix_length INTEGER NOT NULL,
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        vlan INTEGER,
        gateway TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        scan_enabled INTEGER NOT NULL DEFAULT 1,
        scan_interval_seconds INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX subnets_first_key ON subnets(first_key, prefix_length);

      CREATE TABLE addresses (
        id INTEGER PRIMARY KEY,
        ip_key BLOB NOT NULL UNIQUE,
        -- low 64 bits of the address as a signed integer: the subnet view reads 20,000 of
        -- these in a few ms where building Buffers or parsing hex would cost several times more
        ip_low INTEGER NOT NULL,
        address TEXT NOT NULL,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        state TEXT NOT NULL,
        hostname TEXT,
        mac TEXT,
        description TEXT NOT NULL DEFAULT '',
        owner TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- per-subnet counts by state (utilization, /metrics): one index range count per state
      CREATE INDEX addresses_state_ip ON addresses(state, ip_key);
      -- Totals by state and source for /metrics, kept by SQLite itself in the same transaction
      -- as every change (counting 100,000 rows per scrape cost 10 ms).
      CREATE TABLE address_totals (
        state TEXT NOT NULL, source TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (state, source)
      ) WITHOUT ROWID;
      CREATE TRIGGER address_totals_insert AFTER INSERT ON addresses BEGIN
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER address_totals_delete AFTER DELETE ON addresses BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
      END;
      CREATE TRIGGER address_totals_update AFTER UPDATE OF state, source ON addresses
        WHEN OLD.state != NEW.state OR OLD.source != NEW.source BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;

      -- Maximal runs of consecutive used addresses: lets next-free jump a run of a million
      -- addresses with one index probe. Maintained with every address insert and delete.
      CREATE TABLE address_runs (
        first_key BLOB PRIMARY KEY,
        last_key BLOB NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE ranges (
        id INTEGER PRIMARY KEY,
        subnet_id INTEGER NOT NULL REFERENCES subnets(id) ON DELETE CASCADE,
        start_address TEXT NOT NULL,
        end_address TEXT NOT NULL,
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        label TEXT NOT NULL,
        color TEXT,
        purpose TEXT NOT NULL DEFAULT 'other',
        description TEXT NOT NULL DEFAULT '',
        auto_allocate INTEGER NOT NULL DEFAULT 1,
        mark_utilized INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX ranges_subnet ON ranges(subnet_id);
      CREATE INDEX ranges_first_key ON ranges(first_key);

      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        grafana_user TEXT,
        request_id TEXT,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id INTEGER,
        object_repr TEXT NOT NULL,
        before TEXT,
        after TEXT
      );
      CREATE INDEX audit_object ON audit_log(object_type, object_id);

      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'discovery: host observations, status history, events, scans',
    sql: `
      -- What sweeps observe per address; independent of the IPAM row, which a person owns.
      CREATE TABLE hosts (
        ip_key BLOB PRIMARY KEY,
        address TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('up', 'down', 'unknown')),
        misses INTEGER NOT NULL DEFAULT 0,
        rtt_seconds REAL,
        first_seen_at INTEGER,
        last_seen_at INTEGER,
        status_changed_at INTEGER,
        last_checked_at INTEGER,
        mac TEXT,
        vendor TEXT,
        ptr TEXT,
        ports TEXT NOT NULL DEFAULT '[]',
        ports_checked_at INTEGER,
        nmap_checked_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX hosts_status ON hosts(status);

      -- One sample per tracked address per sweep; rolled up to hours after history_raw_days.
      CREATE TABLE host_history (
        ip_key BLOB NOT NULL,
        at INTEGER NOT NULL,
        up INTEGER NOT NULL,
        rtt_seconds REAL,
        PRIMARY KEY (ip_key, at)
      ) WITHOUT ROWID;
      CREATE TABLE host_history_hourly (
        ip_key BLOB NOT NULL,
        hour INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        up_samples INTEGER NOT NULL,
        rtt_avg_seconds REAL,
        PRIMARY KEY (ip_key, hour)
      ) WITHOUT ROWID;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ip_key BLOB,
        address TEXT,
        subnet_id INTEGER,
        message TEXT NOT NULL,
        details TEXT
      );
      CREATE INDEX events_at ON events(at);
      CREATE INDEX events_ip ON events(ip_key, at);

      CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        subnet_id INTEGER NOT NULL,
        cidr TEXT NOT NULL,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        targets INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        alive INTEGER NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        error TEXT
      );
      CREATE INDEX scans_subnet ON scans(subnet_id, id);
    `,
  },
  {
    version: 3,
    name: 'traffic: iperf3 tests over SSH, schedules, host keys trusted on first use',
    sql: `
      CREATE TABLE traffic_schedules (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        duration_seconds INTEGER NOT NULL,
        bitrate_bits_per_second INTEGER,
        parallel INTEGER NOT NULL,
        reverse INTEGER NOT NULL,
        start_server INTEGER NOT NULL,
        -- NULL: the target's iperf3_port (and for bitrate: the protocol's default) at run time
        port INTEGER,
        interval_seconds INTEGER NOT NULL,
        jitter_seconds INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        floor_bits_per_second INTEGER,
        last_test_id INTEGER,
        next_run_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      -- One row per test; finished ones are the history (sparklines), pruned per pair to
      -- traffic.history_per_pair. Result columns stay NULL until the test is done.
      CREATE TABLE traffic_tests (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        target_address TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        duration_seconds INTEGER NOT NULL,
        bitrate_bits_per_second INTEGER,
        parallel INTEGER NOT NULL,
        reverse INTEGER NOT NULL,
        start_server INTEGER NOT NULL,
        port INTEGER NOT NULL,
        schedule_id INTEGER REFERENCES traffic_schedules(id) ON DELETE SET NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        progress REAL NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        sent_bits_per_second REAL,
        received_bits_per_second REAL,
        retransmits INTEGER,
        jitter_seconds REAL,
        lost_packets INTEGER,
        packets INTEGER,
        loss_ratio REAL,
        seconds REAL,
        error TEXT
      );
      CREATE INDEX traffic_tests_pair ON traffic_tests(source, target, protocol, reverse, id);
      CREATE INDEX traffic_tests_state ON traffic_tests(state);
      CREATE INDEX traffic_tests_schedule ON traffic_tests(schedule_id);

      -- Host keys accepted on first use (traffic.trust_on_first_use), per SSH endpoint.
      CREATE TABLE traffic_host_keys (
        address TEXT NOT NULL,
        port INTEGER NOT NULL,
        key_type TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        PRIMARY KEY (address, port)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    name: 'docker: which IPAM subnets and addresses were recorded for which Docker endpoint',
    sql: `
      -- Ownership of IPAM rows created from Docker, so one endpoint's reconciliation never
      -- touches another endpoint's rows or a person's. Deleting the IPAM row drops the link.
      CREATE TABLE docker_subnets (
        subnet_id INTEGER PRIMARY KEY REFERENCES subnets(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        network TEXT NOT NULL,
        network_id TEXT NOT NULL
      );
      CREATE INDEX docker_subnets_endpoint ON docker_subnets(endpoint);
      CREATE TABLE docker_addresses (
        address_id INTEGER PRIMARY KEY REFERENCES addresses(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        container_id TEXT NOT NULL,
        network TEXT NOT NULL
      );
      CREATE INDEX docker_addresses_endpoint ON docker_addresses(endpoint);
    `,
  },
  {
    version: 5,
    name: 'proxmox: VM creation jobs with idempotency keys, links of IPAM addresses to guests',
    sql: `
      -- One row per POST /api/v1/vms; steps is the job's JSON step list (core/jobs.ts).
      CREATE TABLE proxmox_vm_jobs (
        id INTEGER PRIMARY KEY,
        -- a retried request with the same key (and body) finds its job instead of making a VM
        idempotency_key TEXT UNIQUE,
        request_hash TEXT NOT NULL,
        request TEXT NOT NULL,
        actor TEXT NOT NULL,
        node TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        steps TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        vmid INTEGER,
        -- 1 once the create/clone task succeeded: the VM is this job's to delete on failure
        vm_created INTEGER NOT NULL DEFAULT 0,
        address TEXT,
        address_id INTEGER,
        prefix_length INTEGER,
        gateway TEXT,
        dns TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX proxmox_vm_jobs_state ON proxmox_vm_jobs(state);

      -- IPAM rows Lanscape recorded for a guest (inventory) or reserved for one (VM job,
      -- pinned). Only linked rows are ever changed or released; deleting the row drops the link.
      CREATE TABLE proxmox_address_links (
        address_id INTEGER PRIMARY KEY REFERENCES addresses(id) ON DELETE CASCADE,
        vmid INTEGER,
        node TEXT,
        guest_type TEXT CHECK (guest_type IN ('qemu', 'lxc')),
        pinned INTEGER NOT NULL DEFAULT 0,
        job_id INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX proxmox_address_links_vmid ON proxmox_address_links(vmid);
    `,
  },
  {
    version: 6,
    name: 'ids are never reused: AUTOINCREMENT for every table whose ids leave the process',
    rebuildsTables: true,
    // Without AUTOINCREMENT SQLite hands the largest id out again once its row is deleted, so a
    // retried DELETE /subnets/8 could delete the subnet created in between with the same id.
    // Each table is rebuilt with SQLite's 12-step procedure (foreign keys off, see rebuildsTables);
    // rows keep their ids, the tables referring to them keep their REFERENCES clauses (by name),
    // indexes and triggers are created again. The copy is a plain INSERT … SELECT *, which SQLite
    // runs as a page-level transfer. The helpers rebuild() and seedSequence() belong to this
    // migration: once it has shipped, leave their output unchanged.
    sql: `${[
      rebuild(
        'subnets',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cidr TEXT NOT NULL UNIQUE,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        prefix_length INTEGER NOT NULL,
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        vlan INTEGER,
        gateway TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        scan_enabled INTEGER NOT NULL DEFAULT 1,
        scan_interval_seconds INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      `,
        `CREATE INDEX subnets_first_key ON subnets(first_key, prefix_length);`,
      ),
      rebuild(
        'addresses',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ip_key BLOB NOT NULL UNIQUE,
        ip_low INTEGER NOT NULL,
        address TEXT NOT NULL,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        state TEXT NOT NULL,
        hostname TEXT,
        mac TEXT,
        description TEXT NOT NULL DEFAULT '',
        owner TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      `,
        `
      -- address_totals keeps its counts: the copy runs before these triggers exist, and
      -- DROP TABLE fires no DELETE triggers.
      CREATE INDEX addresses_state_ip ON addresses(state, ip_key);
      CREATE TRIGGER address_totals_insert AFTER INSERT ON addresses BEGIN
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER address_totals_delete AFTER DELETE ON addresses BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
      END;
      CREATE TRIGGER address_totals_update AFTER UPDATE OF state, source ON addresses
        WHEN OLD.state != NEW.state OR OLD.source != NEW.source BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;`,
      ),
      rebuild(
        'ranges',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subnet_id INTEGER NOT NULL REFERENCES subnets(id) ON DELETE CASCADE,
        start_address TEXT NOT NULL,
        end_address TEXT NOT NULL,
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        label TEXT NOT NULL,
        color TEXT,
        purpose TEXT NOT NULL DEFAULT 'other',
        description TEXT NOT NULL DEFAULT '',
        auto_allocate INTEGER NOT NULL DEFAULT 1,
        mark_utilized INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      `,
        `
      CREATE INDEX ranges_subnet ON ranges(subnet_id);
      CREATE INDEX ranges_first_key ON ranges(first_key);`,
      ),
      rebuild(
        'audit_log',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        grafana_user TEXT,
        request_id TEXT,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id INTEGER,
        object_repr TEXT NOT NULL,
        before TEXT,
        after TEXT
      `,
        `CREATE INDEX audit_object ON audit_log(object_type, object_id);`,
      ),
      rebuild(
        'events',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ip_key BLOB,
        address TEXT,
        subnet_id INTEGER,
        message TEXT NOT NULL,
        details TEXT
      `,
        `
      CREATE INDEX events_at ON events(at);
      CREATE INDEX events_ip ON events(ip_key, at);`,
      ),
      rebuild(
        'scans',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subnet_id INTEGER NOT NULL,
        cidr TEXT NOT NULL,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        targets INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        alive INTEGER NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        error TEXT
      `,
        `CREATE INDEX scans_subnet ON scans(subnet_id, id);`,
      ),
      rebuild(
        'traffic_schedules',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        duration_seconds INTEGER NOT NULL,
        bitrate_bits_per_second INTEGER,
        parallel INTEGER NOT NULL,
        reverse INTEGER NOT NULL,
        start_server INTEGER NOT NULL,
        port INTEGER,
        interval_seconds INTEGER NOT NULL,
        jitter_seconds INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        floor_bits_per_second INTEGER,
        last_test_id INTEGER,
        next_run_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      `,
        '',
      ),
      rebuild(
        'traffic_tests',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        target_address TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        duration_seconds INTEGER NOT NULL,
        bitrate_bits_per_second INTEGER,
        parallel INTEGER NOT NULL,
        reverse INTEGER NOT NULL,
        start_server INTEGER NOT NULL,
        port INTEGER NOT NULL,
        schedule_id INTEGER REFERENCES traffic_schedules(id) ON DELETE SET NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        progress REAL NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        sent_bits_per_second REAL,
        received_bits_per_second REAL,
        retransmits INTEGER,
        jitter_seconds REAL,
        lost_packets INTEGER,
        packets INTEGER,
        loss_ratio REAL,
        seconds REAL,
        error TEXT
      `,
        `
      CREATE INDEX traffic_tests_pair ON traffic_tests(source, target, protocol, reverse, id);
      CREATE INDEX traffic_tests_state ON traffic_tests(state);
      CREATE INDEX traffic_tests_schedule ON traffic_tests(schedule_id);`,
      ),
      rebuild(
        'proxmox_vm_jobs',
        `
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT UNIQUE,
        request_hash TEXT NOT NULL,
        request TEXT NOT NULL,
        actor TEXT NOT NULL,
        node TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        steps TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        vmid INTEGER,
        vm_created INTEGER NOT NULL DEFAULT 0,
        address TEXT,
        address_id INTEGER,
        prefix_length INTEGER,
        gateway TEXT,
        dns TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      `,
        `CREATE INDEX proxmox_vm_jobs_state ON proxmox_vm_jobs(state);`,
      ),
      seedSequence(
        'subnets',
        "SELECT max(object_id) FROM audit_log WHERE object_type = 'subnet'",
        'SELECT max(subnet_id) FROM ranges',
        'SELECT max(subnet_id) FROM scans',
        'SELECT max(subnet_id) FROM events',
        'SELECT max(subnet_id) FROM docker_subnets',
      ),
      seedSequence(
        'addresses',
        "SELECT max(object_id) FROM audit_log WHERE object_type = 'address'",
        'SELECT max(address_id) FROM docker_addresses',
        'SELECT max(address_id) FROM proxmox_address_links',
        'SELECT max(address_id) FROM proxmox_vm_jobs',
      ),
      seedSequence('ranges', "SELECT max(object_id) FROM audit_log WHERE object_type = 'range'"),
      seedSequence('audit_log'),
      seedSequence('events'),
      seedSequence('scans'),
      seedSequence('traffic_schedules', 'SELECT max(schedule_id) FROM traffic_tests'),
      seedSequence('traffic_tests', 'SELECT max(last_test_id) FROM traffic_schedules'),
      seedSequence(
        'proxmox_vm_jobs',
        "SELECT max(object_id) FROM audit_log WHERE object_type = 'vm_job'",
        'SELECT max(job_id) FROM proxmox_address_links',
      ),
    ].join('\n')}
    `,
  },
  {
    version: 7,
    name: 'discovery: what a scan spent its time on, and what it warns about',
    sql: `
      ALTER TABLE scans ADD COLUMN phases TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE scans ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 8,
    name: 'ipam: VRFs (address spaces); subnets, addresses, ranges and runs are unique per VRF',
    rebuildsTables: true,
    // ARCHITECTURE.md "VRFs (#15)". The global VRF is id 1; every existing row goes there. An
    // address's and a range's VRF is its subnet's, copied into the row so the unique keys and the
    // key-span indexes can lead with it (UNIQUE (vrf_id, ip_key): the same address in two VRFs).
    // subnets and addresses are rebuilt (their single-column UNIQUE is inline); their AUTOINCREMENT
    // high-water marks are kept across the rebuild (ids are never reused, migration 6).
    sql: `
      CREATE TABLE vrfs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        rd TEXT UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- The global VRF has always existed: a fixed time, no clock read in a migration.
      INSERT INTO vrfs (id, name, rd, description, created_at, updated_at)
        VALUES (1, 'global', NULL, 'The global address space', '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z');

      CREATE TABLE vrf_rebuild_sequence AS SELECT name, seq FROM sqlite_sequence WHERE name IN ('subnets', 'addresses');

      CREATE TABLE subnets_rebuild (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cidr TEXT NOT NULL,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        prefix_length INTEGER NOT NULL,
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        vlan INTEGER,
        gateway TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        scan_enabled INTEGER NOT NULL DEFAULT 1,
        scan_interval_seconds INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        vrf_id INTEGER NOT NULL DEFAULT 1 REFERENCES vrfs(id),
        UNIQUE (vrf_id, cidr)
      );
      INSERT INTO subnets_rebuild SELECT *, 1 FROM subnets;
      DROP TABLE subnets;
      ALTER TABLE subnets_rebuild RENAME TO subnets;
      CREATE INDEX subnets_first_key ON subnets(vrf_id, first_key, prefix_length);

      CREATE TABLE addresses_rebuild (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ip_key BLOB NOT NULL,
        ip_low INTEGER NOT NULL,
        address TEXT NOT NULL,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        state TEXT NOT NULL,
        hostname TEXT,
        mac TEXT,
        description TEXT NOT NULL DEFAULT '',
        owner TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        vrf_id INTEGER NOT NULL DEFAULT 1,
        UNIQUE (vrf_id, ip_key)
      );
      INSERT INTO addresses_rebuild SELECT *, 1 FROM addresses;
      DROP TABLE addresses;
      ALTER TABLE addresses_rebuild RENAME TO addresses;
      -- address_totals keeps its counts: the copy runs before these triggers exist, and
      -- DROP TABLE fires no DELETE triggers.
      CREATE INDEX addresses_state_ip ON addresses(vrf_id, state, ip_key);
      CREATE TRIGGER address_totals_insert AFTER INSERT ON addresses BEGIN
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER address_totals_delete AFTER DELETE ON addresses BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
      END;
      CREATE TRIGGER address_totals_update AFTER UPDATE OF state, source ON addresses
        WHEN OLD.state != NEW.state OR OLD.source != NEW.source BEGIN
        UPDATE address_totals SET n = n - 1 WHERE state = OLD.state AND source = OLD.source;
        INSERT INTO address_totals (state, source, n) VALUES (NEW.state, NEW.source, 1)
          ON CONFLICT (state, source) DO UPDATE SET n = n + 1;
      END;

      DELETE FROM sqlite_sequence WHERE name IN ('subnets', 'addresses');
      INSERT INTO sqlite_sequence (name, seq) SELECT name, seq FROM vrf_rebuild_sequence;
      DROP TABLE vrf_rebuild_sequence;

      CREATE TABLE address_runs_rebuild (
        first_key BLOB NOT NULL,
        last_key BLOB NOT NULL,
        vrf_id INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (vrf_id, first_key)
      ) WITHOUT ROWID;
      INSERT INTO address_runs_rebuild SELECT first_key, last_key, 1 FROM address_runs;
      DROP TABLE address_runs;
      ALTER TABLE address_runs_rebuild RENAME TO address_runs;

      ALTER TABLE ranges ADD COLUMN vrf_id INTEGER NOT NULL DEFAULT 1;
      DROP INDEX ranges_first_key;
      CREATE INDEX ranges_first_key ON ranges(vrf_id, first_key);
    `,
  },
  {
    // Self-contained (#15): the agents, the result batches applied (at most once: the batch id is
    // inserted in the transaction that applies it), and which agent sweeps a subnet.
    version: 9,
    name: 'sites and agents: remote scan agents, applied result batches, subnets.agent_id',
    sql: `
      CREATE TABLE agents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        token_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_report_at INTEGER,
        last_seen_at INTEGER,
        queue_depth INTEGER NOT NULL DEFAULT 0,
        dropped_results_total INTEGER NOT NULL DEFAULT 0,
        version TEXT,
        metrics_url TEXT
      );
      CREATE TABLE agent_batches (
        batch_id TEXT PRIMARY KEY,
        agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        subnet_id INTEGER NOT NULL,
        scan_id INTEGER,
        applied_at INTEGER NOT NULL
      );
      CREATE INDEX agent_batches_agent ON agent_batches(agent_id, applied_at);
      ALTER TABLE subnets ADD COLUMN agent_id INTEGER REFERENCES agents(id);
      CREATE INDEX subnets_agent ON subnets(agent_id);
    `,
  },
  {
    version: 10,
    name: 'discovery per VRF: hosts, history and events are keyed by (vrf_id, ip_key)',
    rebuildsTables: true,
    // ARCHITECTURE.md "Discovery per VRF (#15)". A sweep of a subnet observes that subnet's VRF, so
    // two sites' same /24 in two VRFs are two sets of hosts. Every existing row was observed in the
    // global VRF (1). The WITHOUT ROWID tables are rebuilt (their primary key changes), vrf_id
    // last as an ADD COLUMN would put it; events keeps its rows, ids and AUTOINCREMENT mark (ADD
    // COLUMN, allowed with a REFERENCES clause and a non-NULL default while foreign keys are
    // off). Deleting a VRF (which holds no subnets by then) takes its observations with it.
    sql: `
      CREATE TABLE hosts_rebuild (
        ip_key BLOB NOT NULL,
        address TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('up', 'down', 'unknown')),
        misses INTEGER NOT NULL DEFAULT 0,
        rtt_seconds REAL,
        first_seen_at INTEGER,
        last_seen_at INTEGER,
        status_changed_at INTEGER,
        last_checked_at INTEGER,
        mac TEXT,
        vendor TEXT,
        ptr TEXT,
        ports TEXT NOT NULL DEFAULT '[]',
        ports_checked_at INTEGER,
        nmap_checked_at INTEGER,
        vrf_id INTEGER NOT NULL DEFAULT 1 REFERENCES vrfs(id) ON DELETE CASCADE,
        PRIMARY KEY (vrf_id, ip_key)
      ) WITHOUT ROWID;
      INSERT INTO hosts_rebuild SELECT *, 1 FROM hosts;
      DROP TABLE hosts;
      ALTER TABLE hosts_rebuild RENAME TO hosts;
      CREATE INDEX hosts_status ON hosts(status);

      CREATE TABLE host_history_rebuild (
        ip_key BLOB NOT NULL,
        at INTEGER NOT NULL,
        up INTEGER NOT NULL,
        rtt_seconds REAL,
        vrf_id INTEGER NOT NULL DEFAULT 1 REFERENCES vrfs(id) ON DELETE CASCADE,
        PRIMARY KEY (vrf_id, ip_key, at)
      ) WITHOUT ROWID;
      INSERT INTO host_history_rebuild SELECT *, 1 FROM host_history;
      DROP TABLE host_history;
      ALTER TABLE host_history_rebuild RENAME TO host_history;

      CREATE TABLE host_history_hourly_rebuild (
        ip_key BLOB NOT NULL,
        hour INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        up_samples INTEGER NOT NULL,
        rtt_avg_seconds REAL,
        vrf_id INTEGER NOT NULL DEFAULT 1 REFERENCES vrfs(id) ON DELETE CASCADE,
        PRIMARY KEY (vrf_id, ip_key, hour)
      ) WITHOUT ROWID;
      INSERT INTO host_history_hourly_rebuild SELECT *, 1 FROM host_history_hourly;
      DROP TABLE host_history_hourly;
      ALTER TABLE host_history_hourly_rebuild RENAME TO host_history_hourly;

      ALTER TABLE events ADD COLUMN vrf_id INTEGER NOT NULL DEFAULT 1 REFERENCES vrfs(id) ON DELETE CASCADE;
      DROP INDEX events_ip;
      CREATE INDEX events_ip ON events(vrf_id, ip_key, at);
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
