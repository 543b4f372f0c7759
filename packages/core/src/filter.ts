import type { CloudEvent, Filter } from "@cebus/proto";
import { CebusError } from "./errors.js";
import { attributeString } from "./event.js";

/** A compiled subscription filter. */
export type EventPredicate = (event: CloudEvent) => boolean;

const matchAll: EventPredicate = () => true;
const attributeName = /^[a-z0-9]+$/;

/**
 * Compiles a filter in the CloudEvents Subscriptions API dialects (exact, prefix, suffix, all, any, not) into a
 * predicate. Throws invalid_argument, naming the path of the bad part, for a filter that cannot mean anything.
 * An unset filter matches every event.
 */
export function compileFilter(filter: Filter | undefined, path = "filter"): EventPredicate {
  if (!filter || filter.filter.case === undefined) return matchAll;
  return compileNode(filter, path);
}

function compileNode(filter: Filter, path: string): EventPredicate {
  const f = filter.filter;
  switch (f.case) {
    case "exact":
    case "prefix":
    case "suffix": {
      const entries = Object.entries(f.value.attributes);
      if (entries.length === 0)
        fail(`${path}.${f.case}`, "names no attribute; give at least one attribute and value");
      for (const [name, value] of entries) {
        if (!attributeName.test(name)) {
          fail(`${path}.${f.case}.${name}`, "is not an attribute name; use lower-case letters and digits");
        }
        if (f.case !== "exact" && value === "")
          fail(`${path}.${f.case}.${name}`, "is empty; give a non-empty value");
      }
      const test =
        f.case === "exact"
          ? (actual: string, wanted: string) => actual === wanted
          : f.case === "prefix"
            ? (actual: string, wanted: string) => actual.startsWith(wanted)
            : (actual: string, wanted: string) => actual.endsWith(wanted);
      return (event) =>
        entries.every(([name, wanted]) => {
          const actual = attributeString(event, name);
          return actual !== undefined && test(actual, wanted);
        });
    }
    case "all":
    case "any": {
      if (f.value.filters.length === 0) fail(`${path}.${f.case}`, "has no filters; give at least one");
      const parts = f.value.filters.map((child, i) => compileNode(child, `${path}.${f.case}[${i}]`));
      return f.case === "all"
        ? (event) => parts.every((p) => p(event))
        : (event) => parts.some((p) => p(event));
    }
    case "not": {
      const inner = compileNode(f.value, `${path}.not`);
      return (event) => !inner(event);
    }
    default:
      return fail(path, "is empty; set one dialect (exact, prefix, suffix, all, any or not)");
  }
}

function fail(field: string, message: string): never {
  throw new CebusError("invalid_argument", `${field} ${message}`, { field });
}
