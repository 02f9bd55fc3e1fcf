// Kernel features the lab's steps need, checked in preflight on every machine that runs on this host's kernel: a
// VLAN lab on a host without 802.1Q fails here in a second, naming the step and the way out (a VM machine).
import { type Feature, featureInfo, hostFeatures } from '../host/features.ts';
import { which } from '../host/which.ts';
import { checkKind } from '../kinds/checks/index.ts';
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

/** Programs the lab's checks run on machines that use this host's programs (namespaces), missing from this host. */
export function missingTools(
  lab: Lab,
  provider: Pick<Provider, 'sharesHostKernel'>,
  has: (bin: string) => boolean = (b) => which(b) !== undefined,
): (Problem & { feature: string })[] {
  const missing = new Map<string, { pkg: string; checks: string[] }>();
  for (const a of lab.assertions) {
    const onHost = checkKind(a.kind)
      .nodes(a)
      .some((n) => {
        const m = lab.machines.find((x) => x.name === n);
        return m && provider.sharesHostKernel(m);
      });
    if (!onHost) continue;
    for (const t of checkKind(a.kind).tools ?? []) {
      if (has(t.bin)) continue;
      const entry = missing.get(t.bin) ?? { pkg: t.pkg, checks: [] };
      entry.checks.push(a.id);
      missing.set(t.bin, entry);
    }
  }
  return [...missing].map(([bin, m]) => ({
    feature: bin,
    what: `${m.checks.length > 1 ? 'assertions' : 'assertion'} ${m.checks.join(', ')} ${m.checks.length > 1 ? 'run' : 'runs'} ${bin} on a namespace machine, which runs this host's programs, and this host lacks it`,
    hint: `apt-get install -y ${m.pkg}`,
  }));
}

export async function requirementProblems(
  lab: Lab,
  provider: Pick<Provider, 'sharesHostKernel'>,
  probe: () => Promise<Map<Feature, boolean>> = hostFeatures,
): Promise<(Problem & { feature: string })[]> {
  const tools = missingTools(lab, provider);
  const needs = hostNeeds(lab, provider);
  if (!needs.length) return tools;
  const have = await probe();
  const kernel = needs
    .filter((n) => !have.get(n.feature))
    .map((n) => {
      const role = lab.machines.find((m) => m.name === n.machine)!.role;
      return {
        feature: featureInfo(n.feature).what,
        what: `step ${n.step} (${n.kind}) on ${n.machine} needs ${featureInfo(n.feature).what}, which this host's kernel lacks (${n.machine} is a namespace sharing it)`,
        hint: `make ${n.machine} a VM for this lab: machines: { ${n.machine}: { role: ${role}, provider: vm, ... } }, or run with --provider vm`,
      };
    });
  return [...tools, ...kernel];
}
