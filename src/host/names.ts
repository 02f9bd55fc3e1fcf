// The one rule for instance names, for every command that takes one: an instance name becomes a file name, a
// folder name and part of every namespace and link name, so nothing but [a-z0-9-] gets through.
import { UsageError } from '../errors.ts';

export const INSTANCE_NAME = /^[a-z0-9][a-z0-9-]{0,23}$/;

export function isInstanceName(s: string): boolean {
  return INSTANCE_NAME.test(s);
}

/** The name, or a UsageError (exit 2) saying what a name may be. */
export function instanceName(s: string): string {
  if (isInstanceName(s)) return s;
  const shown = JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
  throw new UsageError(
    `${shown} cannot be an instance name`,
    'use lowercase letters, digits and "-", at most 24 characters, starting with a letter or digit',
  );
}
