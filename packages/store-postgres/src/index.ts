export { migrate, openPostgresStore, type PostgresConnectOptions } from "./connect.js";
export { type Migration, migrations } from "./migrations.js";
export { enqueueInOutbox, relayOutbox } from "./outbox.js";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
