// The netns backend's rows of the provider table: netns (machines are namespaces on this host) and vm (every
// hypervisor boots as a QEMU VM in its namespace, with its own kernel and KVM inside it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { home } from '../../host/home.ts';
import { StateStore } from '../../host/state.ts';
import type { ProviderDef } from '../port.ts';
import { hostProblems } from './preflight.ts';
import { NetnsProvider } from './provider.ts';
import { nsMachines } from './state.ts';
import { hostAccel } from './vm/accel.ts';
import { machineImages } from './vm/image.ts';
import { nestedReport, vmProblems } from './vm/preflight.ts';
import { listSnapshots, removeSnapshots } from './vm/snapshot.ts';

const kernel = {
  key: 'kernel',
  flag: '--kernel',
  value: '<package>',
  help: 'the Debian kernel hypervisor VMs boot (default linux-image-cloud-amd64; also linux-image-6.12-cloud-amd64, or any linux-image-* package, or the path of a kernel .deb of your own: added to the image; or a bzImage of a version the image holds)',
};

const image = {
  key: 'image',
  flag: '--image',
  value: '<suite>',
  help: 'the Debian suite VM machines are built from: bookworm (default; libvirt 9.0, QEMU 7.2), bookworm-backports or trixie (libvirt 11.3, QEMU 10.0, kernel 6.12)',
};

/** doctor: the host's tools and kernel, how VMs run here, the images built. */
async function doctor() {
  const h = home();
  const problems = await hostProblems(true);
  const accel = hostAccel();
  const vm = vmProblems([{ name: 'kvm-01', role: 'hypervisor', ram: 2048, vcpu: 2, nested: true, nics: [] }]);
  const images = machineImages(h);
  const snapshots = listSnapshots(h);
  const kvm = existsSync('/dev/kvm');
  const guest = join(h.images, 'cirros.qcow2');
  const pvm =
    accel.accel === 'tcg' ? ' but not usable for ordinary guests (the CPU offers no vmx/svm: a PVM-only KVM)' : '';
  const lines = [
    `/dev/kvm:        ${kvm ? `present${pvm}` : 'absent'}`,
    "netns provider:  machines share this host's kernel; their guests run under QEMU TCG (virt-install --virt-type qemu)",
    ...nestedReport(),
    `guest image:     ${existsSync(guest) ? guest : 'not built yet (built on first run: scripts/build-guest-image.sh)'}`,
    `machine image:   ${images.length ? images.map((i) => `${i.dir} (${i.suite}: kernels ${i.kernels.map((k) => k.version).join(', ')}${i.packages['libvirt-daemon'] ? `, libvirt ${i.packages['libvirt-daemon']}` : ''})`).join('; ') : 'not built yet (built on first vm run, about 1.5 min: scripts/build-vm-image.sh)'}`,
    `VM snapshots:    ${snapshots.length ? snapshots.map((s) => `${s.dir} (kernel ${s.kernel}, ${s.shape.role}, ${s.shape.ram} MiB, ${s.shape.vcpu} vCPU, ${s.shape.nics} NIC(s), ${Math.round(s.bytes / 2 ** 20)} MiB)`).join('; ') : "none yet (a VM machine's first boot saves one; VIRTLAB_VM_SNAPSHOTS=0 turns them off)"}`,
  ];
  const data = { kvm, vm: { accel: accel.accel, why: accel.why, problems: vm, images, snapshots } };
  return { lines, problems: [...problems, ...vm.map((p) => ({ ...p, what: `vm provider: ${p.what}` }))], data };
}

/** The snapshots the VMs of instances that are up started from: never removed under them. */
function pruneSnapshots() {
  const h = home();
  const inUse = new Set(
    StateStore.list(h).flatMap((st) =>
      nsMachines(st).flatMap((m) => (m.data.vm?.snapshot ? [m.data.vm.snapshot] : [])),
    ),
  );
  return removeSnapshots(h, inUse);
}

export const netnsDef: ProviderDef = {
  name: 'netns',
  summary: 'machines are network namespaces on this host (machines.yml may make one a VM)',
  options: [kernel, image],
  create: (o) => new NetnsProvider({ kernel: o.kernel, image: o.image }),
  doctor,
  pruneSnapshots,
};

export const vmDef: ProviderDef = {
  name: 'vm',
  summary: 'hypervisors are QEMU VMs with their own kernel and KVM inside them (nested); peers stay namespaces',
  options: [kernel, image],
  create: (o) => new NetnsProvider({ kernel: o.kernel, image: o.image, vms: 'hypervisors', name: 'vm' }),
  bootsVms: () => true,
};
