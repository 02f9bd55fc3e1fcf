// The vm provider: the netns provider's underlays and namespaces, with every hypervisor booted as a QEMU VM inside
// its namespace (its own kernel, libvirt and QEMU; KVM inside it when nested virtualization works). Peers stay
// namespaces (their kernel is not under test) unless machines.yml says `provider: vm`.
import { NetnsProvider, type NetnsOptions } from '../netns/provider.ts';

export class VmProvider extends NetnsProvider {
  constructor(o: Omit<NetnsOptions, 'vms' | 'name'> = {}) {
    super({ ...o, vms: 'hypervisors', name: 'vm' });
  }
}
