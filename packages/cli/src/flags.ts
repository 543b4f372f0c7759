import { InvalidArgumentError } from "commander";

/** The largest whole number a numeric flag may carry when the API field is a uint32. */
export const uint32Max = 4_294_967_295;

/**
 * A commander argument parser for a whole-number flag: anything else is a usage error naming the flag's value
 * and the accepted range (commander prefixes the flag, the CLI exits 2).
 */
export function wholeNumber(min: number, max = uint32Max): (value: string) => number {
  return (value: string) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`give a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}
