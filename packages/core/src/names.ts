import { CebusError } from "./errors.js";

/** Topic and subscription names: 1-200 characters of letters, digits and . _ - / (no leading or trailing /). */
const validName = /^[A-Za-z0-9._-](?:[A-Za-z0-9._\-/]{0,198}[A-Za-z0-9._-])?$/;

export function validateName(kind: "topic" | "subscription", name: string, field = "name"): void {
  if (name === "") {
    throw new CebusError("invalid_argument", `${kind} name is missing; set ${field}`, { field });
  }
  if (!validName.test(name)) {
    throw new CebusError(
      "invalid_argument",
      `${kind} name '${name}' is not valid; use 1-200 letters, digits and . _ - / (no leading or trailing /)`,
      { field },
    );
  }
}
