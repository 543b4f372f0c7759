import { describeStoreContract } from "../contract/index.js";
import { createMemoryStore } from "./memory-store.js";

describeStoreContract("memory", { open: async () => createMemoryStore() });
