// Every name the netns provider creates on the host carries the instance and the run id.

export const nsMachine = (instance: string, runId: string, machine: string) => `vl-${instance}-${runId}-m-${machine}`;
export const nsNetwork = (instance: string, runId: string, net: string) => `vl-${instance}-${runId}-n-${net}`;
/** Root-namespace end of a machine's management veth (<= 15 bytes). */
export const mgmtLink = (runId: string, index: number) => `vl${runId}m${index}`;
export const MGMT_NIC = 'mgmt0';
export const LAN_BRIDGE = 'br0';
/** LAN-side end of machine #m's NIC #n (inside the network's namespace). */
export const lanPort = (m: number, n: number) => `p${m}n${n}`;
/** Prefix every netns name of virtlab starts with. */
export const NS_PREFIX = 'vl-';
