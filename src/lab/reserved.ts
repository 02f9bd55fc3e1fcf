// What a lab may not use because virtlab or the kernel needs it: NIC names, address ranges, MACs.
import { type Cidr, formatIp, mask, parseIp } from './ipv4.ts';

const cidr = (ip: string, prefix: number): Cidr => ({ network: parseIp(ip)!, prefix, text: `${ip}/${prefix}` });

/** lo is the loopback; mgmt0 is the management NIC virtlab gives every machine. */
export const RESERVED_NICS: Record<string, string> = {
  lo: 'the loopback interface',
  mgmt0: "virtlab's management interface of every machine",
};

/** 100.127.0.0/16: the top of the shared address space (RFC 6598); virtlab's management veths use it. */
export const MGMT_RANGE = cidr('100.127.0.0', 16);

/** Ranges no lab network can use: the host's own meanings for them would win. */
export const UNUSABLE: { cidr: Cidr; why: string }[] = [
  { cidr: cidr('0.0.0.0', 8), why: '"this network" (0.0.0.0/8)' },
  { cidr: cidr('127.0.0.0', 8), why: 'the loopback range 127.0.0.0/8' },
  { cidr: cidr('224.0.0.0', 4), why: 'the multicast range 224.0.0.0/4' },
  { cidr: cidr('240.0.0.0', 4), why: 'the reserved range 240.0.0.0/4' },
  { cidr: MGMT_RANGE, why: "virtlab's management range 100.127.0.0/16 (its own veths to every machine)" },
];

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & mask(p)) >>> 0 === (b.network & mask(p)) >>> 0;
}

export const cidrText = (c: Cidr) => `${formatIp(c.network)}/${c.prefix}`;

/** Why a MAC cannot be a NIC's: multicast/broadcast (the group bit), or all zeros. */
export function macProblem(mac: string): string | undefined {
  if (/^(00:){5}00$/i.test(mac)) return 'the all-zero MAC is not a valid address';
  if (Number.parseInt(mac.slice(0, 2), 16) & 1)
    return `${mac} is a multicast${/^ff(:ff){5}$/i.test(mac) ? ' (broadcast)' : ''} MAC: a NIC needs a unicast one (an even first octet)`;
  return undefined;
}
