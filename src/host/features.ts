// Kernel features a lab may need, probed on this host the way a lab would use them: each link type is created in
// a scratch namespace (and removed with it), so the answer is the kernel's own, not a guess from a config file.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { LocalExecutor } from '../transport/local.ts';

export type Feature =
  | 'bridge'
  | 'veth'
  | 'macvlan'
  | 'macvtap'
  | '8021q'
  | 'bonding'
  | 'bridge-vlan-filtering'
  | 'netem'
  | 'openvswitch';

export interface FeatureInfo {
  name: Feature;
  /** what a person calls it */
  what: string;
  /** commands (ip or tc, inside the scratch namespace) that succeed only when the kernel has it */
  probe?: string[][];
  /** a tool the feature needs on the machine besides the kernel */
  tool?: string;
}

/** A veth to stack a device on (the loopback takes no VLAN or macvlan). */
const lower = (name: string) => [['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]];

export const FEATURES: readonly FeatureInfo[] = [
  { name: 'bridge', what: 'Linux bridges', probe: [['ip', 'link', 'add', 'fb0', 'type', 'bridge']] },
  { name: 'veth', what: 'veth pairs', probe: [['ip', 'link', 'add', 'fv0', 'type', 'veth', 'peer', 'name', 'fv1']] },
  {
    name: 'macvlan',
    what: 'macvlan devices',
    probe: [...lower('fm'), ['ip', 'link', 'add', 'link', 'fm', 'name', 'fm0', 'type', 'macvlan', 'mode', 'bridge']],
  },
  {
    name: 'macvtap',
    what: 'macvtap devices',
    probe: [...lower('ft'), ['ip', 'link', 'add', 'link', 'ft', 'name', 'ft0', 'type', 'macvtap', 'mode', 'bridge']],
  },
  {
    name: '8021q',
    what: '802.1Q VLANs (the 8021q module)',
    probe: [...lower('fq'), ['ip', 'link', 'add', 'link', 'fq', 'name', 'fq.5', 'type', 'vlan', 'id', '5']],
  },
  { name: 'bonding', what: 'bonds (the bonding module)', probe: [['ip', 'link', 'add', 'fbond0', 'type', 'bond']] },
  {
    name: 'bridge-vlan-filtering',
    what: 'VLAN filtering on Linux bridges',
    probe: [['ip', 'link', 'add', 'fbv0', 'type', 'bridge', 'vlan_filtering', '1']],
  },
  {
    name: 'netem',
    what: 'netem (delay, loss, rate: sch_netem)',
    probe: [['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']],
  },
  { name: 'openvswitch', what: 'Open vSwitch (the openvswitch module and ovs-vswitchd)', tool: 'ovs-vsctl' },
];

export const featureInfo = (f: Feature): FeatureInfo => FEATURES.find((x) => x.name === f)!;

/** Which features this host's kernel has (all of them probed in one scratch namespace, about 0.1 s). */
export async function hostFeatures(local = new LocalExecutor('host')): Promise<Map<Feature, boolean>> {
  const out = new Map<Feature, boolean>();
  const ns = `vl-features-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = await local.run(['ip', 'netns', 'add', ns], { check: false });
  try {
    for (const f of FEATURES) {
      if (!f.probe) {
        // Open vSwitch: its module loaded (or loadable) and its daemon's tools installed
        const mod =
          existsSync('/sys/module/openvswitch') ||
          (await local.run(['modinfo', 'openvswitch'], { check: false })).exitCode === 0;
        out.set(
          f.name,
          mod && (await local.run(['sh', '-c', `command -v ${f.tool}`], { check: false })).exitCode === 0,
        );
        continue;
      }
      let ok = add.exitCode === 0;
      for (const argv of f.probe) {
        if (!ok) break;
        const [tool, ...rest] = argv as [string, ...string[]];
        ok = (await local.run([tool, '-n', ns, ...rest], { check: false })).exitCode === 0;
      }
      out.set(f.name, ok);
    }
  } finally {
    if (add.exitCode === 0) await local.run(['ip', 'netns', 'delete', ns], { check: false });
  }
  return out;
}
