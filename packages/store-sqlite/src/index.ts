export { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export { openSqliteStoreInWorker } from "./worker-store.js";
