// How the runner and the kinds reach a live lab's machines and underlay networks (a provider makes them).
import type { Executor } from './executor.ts';

export interface MachineHandle {
  name: string;
  role: 'hypervisor' | 'peer';
  exec: Executor;
  /** how a person reaches it */
  address: string;
  /** how guests on this hypervisor are accelerated: kvm only where /dev/kvm works inside the machine */
  guestVirt?: 'kvm' | 'qemu';
  /** the machine shares the control host's files (a namespace): packages are checked, never installed */
  sharedFilesystem?: boolean;
  /** on a shared filesystem, the folders that are the machine's own (mounted over the host's) */
  privatePaths?: string[];
  /** host file with the machine's own console (VM machines) */
  consoleLog?: string;
  /** what the machine is, for the report: "namespace", "VM (TCG)", "VM (KVM)" */
  kind?: string;
  /** the machine is a VM (its commands, and its guests, answer slower than a namespace's) */
  vm?: boolean;
  /** a VM started from a snapshot of its booted state (not booted): the snapshot's key */
  snapshot?: string;
}

/** Read access to an underlay network's own DHCP server (the LAN of the original lab). */
export interface UnderlayHandle {
  name: string;
  /** dnsmasq lease file content */
  leases(): Promise<string>;
  exec: Executor;
  /** false when the network's own DHCP server is no longer running */
  dhcpAlive(): boolean;
  /** switch ports: which machine NIC is plugged into which port */
  ports: { machine: string; nic: string; port: string }[];
}
