/**
 * Schema versions of a Durable Object's SQLite tables. An object keeps the version its tables are
 * at in a one-row table (workerd does not allow PRAGMA user_version); when it wakes, the
 * migrations it has not had run in one transaction, so an object is never left half migrated.
 *
 * To change a schema, append a migration (never edit one that has shipped: objects out there
 * have run it), and write every statement to name its columns, so rows keep their meaning as
 * columns are added.
 */

/** One migration: the statements that bring the tables from the version before it to its own. */
export type Migration = readonly string[];

export interface Schema {
  /** Migration n (1-based) brings version n - 1 to n; migration 1 creates the tables. */
  readonly migrations: readonly Migration[];
  /**
   * A table of migration 1 that every object written at version 1 has. The release before
   * versions were kept wrote no version row: an object that has this table and no version row is
   * at version 1.
   */
  readonly versionOneTable: string;
}

/** What a migration needs of the object's storage. */
export type SchemaStorage = Pick<DurableObjectStorage, "sql" | "transactionSync">;

const VERSION_TABLE = "schema_version";

/** The version the object's tables are at; 0 when it has none. */
export function schemaVersion(sql: SqlStorage, schema: Schema): number {
  const tables = sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)", VERSION_TABLE, schema.versionOneTable)
    .toArray()
    .map((row) => row.name);
  if (tables.includes(VERSION_TABLE)) return sql.exec<{ version: number }>(`SELECT version FROM ${VERSION_TABLE}`).one().version;
  return tables.includes(schema.versionOneTable) ? 1 : 0;
}

/**
 * Runs the migrations the object has not had and records the version reached, all or nothing.
 * An object without tables is left without any (a lookup stores nothing) unless `create`: its
 * first write then creates the tables through every migration. An object a later release has
 * migrated (after a rollback) is used as it is. Returns whether the object has its tables.
 */
export function migrate(storage: SchemaStorage, schema: Schema, create: boolean): boolean {
  const from = schemaVersion(storage.sql, schema);
  if (from === 0 && !create) return false;
  const to = schema.migrations.length;
  if (from >= to) return true;
  storage.transactionSync(() => {
    for (const statement of schema.migrations.slice(from).flat()) storage.sql.exec(statement);
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`);
    storage.sql.exec(
      `INSERT INTO ${VERSION_TABLE} (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
      to,
    );
  });
  return true;
}
