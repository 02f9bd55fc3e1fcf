// Parsers for DHCP lease listings: dnsmasq's lease file and `virsh net-dhcp-leases`.

export interface Lease {
  mac: string;
  ip: string;
  hostname?: string;
  expiry?: string;
}

/** dnsmasq lease file: `<expiry epoch> <mac> <ip> <hostname|*> <client-id|*>` per line. */
export function parseDnsmasqLeases(text: string): Lease[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && /^[0-9a-f:]{17}$/i.test(f[1]!))
    .map((f) => ({
      expiry: f[0],
      mac: f[1]!.toLowerCase(),
      ip: f[2]!,
      hostname: f[3] && f[3] !== '*' ? f[3] : undefined,
    }));
}

/**
 * `virsh net-dhcp-leases NET`:
 *  Expiry Time           MAC address         Protocol   IP address           Hostname   Client ID or DUID
 *  2026-11-26 15:01:02   52:54:00:58:e4:7f   ipv4       192.168.122.113/24   node-1     -
 */
export function parseVirshLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+ \S+)\s+([0-9a-f:]{17})\s+ipv4\s+(\d+\.\d+\.\d+\.\d+)(?:\/\d+)?\s+(\S+)/i.exec(line);
    if (m) out.push({ expiry: m[1], mac: m[2]!.toLowerCase(), ip: m[3]!, hostname: m[4] === '-' ? undefined : m[4] });
  }
  return out;
}
