// Kernel features the lab's steps need, checked in preflight on every machine that runs on this host's kernel: a
// VLAN lab on a host without 802.1Q fails here in a second, naming the step and the way out (a VM machine).
import { type Feature, featureInfo, hostFeatures } from '../host/features.ts';
import { stepMachine, stepRequires } from '../kinds/steps/index.ts';
import type { Lab } from '../lab/model.ts';
import type { Problem, Provider } from '../providers/port.ts';

export interface Need {
  feature: Feature;
  step: string;
  kind: string;
  machine: string;
}

/** What the lab needs of the kernel of each machine that shares this host's kernel. */
export function hostNeeds(lab: Lab, provider: Pick<Provider, 'sharesHostKernel'>): Need[] {
  const needs: Need[] = [];
  for (const st of [...lab.steps, ...lab.teardown]) {
    const name = stepMachine(st);
    const m = lab.machines.find((x) => x.name === name);
    if (!m || !provider.sharesHostKernel(m)) continue;
    for (const feature of stepRequires(st)) needs.push({ feature, step: st.id, kind: st.kind, machine: m.name });
  }
  return needs;
}

export async function requirementProblems(
  lab: Lab,
  provider: Pick<Provider, 'sharesHostKernel'>,
  probe: () => Promise<Map<Feature, boolean>> = hostFeatures,
): Promise<(Problem & { feature: string })[]> {
  const needs = hostNeeds(lab, provider);
  if (!needs.length) return [];
  const have = await probe();
  return needs
    .filter((n) => !have.get(n.feature))
    .map((n) => {
      const role = lab.machines.find((m) => m.name === n.machine)!.role;
      return {
        feature: featureInfo(n.feature).what,
        what: `step ${n.step} (${n.kind}) on ${n.machine} needs ${featureInfo(n.feature).what}, which this host's kernel lacks (${n.machine} is a namespace sharing it)`,
        hint: `make ${n.machine} a VM for this lab: machines: { ${n.machine}: { role: ${role}, provider: vm, ... } }, or run with --provider vm`,
      };
    });
}
