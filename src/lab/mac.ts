// MAC addresses: stable per lab and name, in QEMU's 52:54:00 range.
import { createHash } from 'node:crypto';

/** A MAC that is the same for the same lab and name. */
export function stableMac(lab: string, name: string): string {
  const h = createHash('sha256').update(`${lab}/${name}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
