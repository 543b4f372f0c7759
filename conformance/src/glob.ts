/**
 * A case or mutant selector: `*` matches within a path segment, `**` across; several globs may be joined with commas
 * ("ordering/*,replay/*").
 */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*\*/g, "<<any>>")
    .replace(/\*/g, "[^/]*")
    .replace(/<<any>>/g, ".*");
  return new RegExp(`^(${pattern.split(",").join("|")})$`);
}
