import { describeStoreContract } from "../contract/index.js";
import { describeDeliveryModel } from "../contract/model.js";
import { createMemoryStore } from "./memory-store.js";

describeStoreContract("memory", { open: async () => createMemoryStore() });
describeDeliveryModel("memory", { open: async () => createMemoryStore() });
