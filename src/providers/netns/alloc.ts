// Host-wide allocation of management /30s and ifindex slots, free of every live instance's and the host's own.
import { readdirSync } from 'node:fs';
import { HostError } from '../../errors.ts';
import type { StateStore } from '../../host/state.ts';
import { formatIp, parseIp } from '../../lab/ipv4.ts';
import { nsMachines } from './state.ts';

/** 100.127.0.0/16: the top of the shared address space (RFC 6598), used only on our own veths. */
export const MGMT_POOL = { base: parseIp('100.127.0.0')!, blocks: 16384 };
export const SLOT_WIDTH = 256;

export interface MgmtPair {
  local: string;
  host: string;
}

export function usedHostAddresses(ipAddrJson: string): Set<string> {
  const used = new Set<string>();
  const links = JSON.parse(ipAddrJson || '[]') as { addr_info?: { family: string; local: string }[] }[];
  for (const link of links) for (const a of link.addr_info ?? []) if (a.family === 'inet') used.add(a.local);
  return used;
}

export function allocateMgmt(
  count: number,
  states: StateStore[],
  hostAddrs: Set<string>,
  pool = MGMT_POOL,
): MgmtPair[] {
  const used = new Set(hostAddrs);
  for (const s of states) for (const m of nsMachines(s)) used.add(m.data.mgmtLocal).add(m.address);
  const out: MgmtPair[] = [];
  for (let b = 0; b < pool.blocks && out.length < count; b++) {
    const net = pool.base + b * 4;
    const pair = { local: formatIp(net + 1), host: formatIp(net + 2) };
    if (used.has(pair.local) || used.has(pair.host)) continue;
    out.push(pair);
  }
  if (out.length < count)
    throw new HostError(
      'no free management addresses left in 100.127.0.0/16',
      'remove lab instances you no longer need: virtlab status, virtlab down <instance>',
    );
  return out;
}

/** /dev/tapN numbers in use on the host right now. */
export function tapNumbers(devDir = '/dev'): number[] {
  return readdirSync(devDir).flatMap((f) => (/^tap(\d+)$/.test(f) ? [Number(f.slice(3))] : []));
}

/**
 * Ifindex slots for hypervisor machines: slot k means the machine's interfaces are numbered from k*SLOT_WIDTH,
 * so the /dev/tapN of its macvtaps never collides with another machine's (see HOST-NOTES).
 */
export function allocateSlots(count: number, states: StateStore[], taps: number[]): number[] {
  const used = new Set<number>();
  for (const s of states)
    for (const m of nsMachines(s)) if (m.data.ifindexBase) used.add(m.data.ifindexBase / SLOT_WIDTH);
  for (const t of taps) used.add(Math.floor(t / SLOT_WIDTH));
  used.add(0); // the low range belongs to whatever the host creates
  const out: number[] = [];
  for (let k = 1; out.length < count; k++) if (!used.has(k)) out.push(k);
  return out;
}
