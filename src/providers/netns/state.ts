// What the netns provider keeps in the state file: per machine its namespace, folder, management link (and VM),
// per instance its underlay networks. The generic record (src/host/state.ts) carries it as provider-owned data.
import type { MachineRecord, StateStore } from '../../host/state.ts';
import type { Accel } from './vm/accel.ts';

export interface VmState {
  /** the machine image's folder (disk.qcow2, kernels) */
  image: string;
  /** the kernel it boots: its version and the Debian package it came from */
  kernel: string;
  kernelPackage: string;
  /** a bzImage of one's own booted instead of the image's kernel of the same version */
  kernelFile?: string;
  accel: Accel;
  console: string;
  /** the snapshot this VM started from (snapshot.ts), or undefined for a boot */
  snapshot?: string;
  /** inside the VM: does /dev/kvm work (guests then run under KVM)? */
  guestVirt?: 'kvm' | 'qemu';
}

export interface NsMachineData {
  ns: string;
  dir: string;
  /** the root namespace's end of the management veth (the machine's end is MachineRecord.address) */
  mgmtLocal: string;
  mgmtLink: string;
  ifindexBase?: number;
  /** set when the machine is a QEMU VM inside its namespace */
  vm?: VmState;
}

export interface NsNetwork {
  name: string;
  ns: string;
  dir: string;
  leaseFile: string;
  bridge: string;
  macFiltering?: boolean;
  /** machine NICs plugged into this network's bridge */
  ports: { machine: string; machineNs: string; nic: string; port: string; mac: string }[];
}

export interface NsData {
  networks: NsNetwork[];
  /** the instance runs VM machines and holds one of the host's VM slots (vm/slots.ts) */
  vmSlot?: boolean;
}

export type NsMachine = MachineRecord & { data: NsMachineData };

/** The provider names the netns backend records under (a state made by another backend has other data). */
export const NETNS_PROVIDERS = ['netns', 'vm'];

export function isNsState(store: StateStore): boolean {
  return NETNS_PROVIDERS.includes(store.state.provider);
}

/** This instance's machines with their namespace data (machines not yet planned have none). */
export function nsMachines(store: StateStore): NsMachine[] {
  return store.state.machines.filter((m): m is NsMachine => {
    const d = m.data as Partial<NsMachineData> | undefined;
    return !!d && typeof d.ns === 'string' && typeof d.dir === 'string' && typeof d.mgmtLink === 'string';
  });
}

export function nsData(store: StateStore): NsData {
  const d = store.state.data as Partial<NsData> | undefined;
  return { networks: Array.isArray(d?.networks) ? d.networks : [], ...(d?.vmSlot ? { vmSlot: true } : {}) };
}

export function setNsData(store: StateStore, fn: (d: NsData) => void): void {
  store.update((s) => {
    const d = nsData(store);
    fn(d);
    s.data = d;
  });
}
