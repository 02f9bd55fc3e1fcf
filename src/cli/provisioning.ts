// Day-two provisioning of a lab that is up: run its playbooks again (a second run should change nothing), and the
// inventory virtlab gives ansible-playbook, for use by hand.
import { EXIT, HostError } from '../errors.ts';
import { closeAll, makeSession } from '../kinds/session.ts';
import { instanceLab } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import { inventoryText } from '../runner/ansible.ts';
import { ansibleHosts, ansibleProblems, checkPlaybooks, runProvisioning } from '../runner/provision.ts';
import { knownHosts } from './access.ts';
import type { Options } from './args.ts';
import { instanceStore } from './instances.ts';
import { interrupts } from './interrupts.ts';
import { provisionerOption } from './options.ts';
import { oneLab, reporter } from './output.ts';

/** `virtlab inventory <lab>`: the inventory virtlab gives ansible-playbook. */
export function inventory(o: Options): number {
  const store = instanceStore(oneLab(o, 'inventory'));
  const hosts = ansibleHosts({ store });
  const known = knownHosts(store);
  process.stdout.write(
    inventoryText(hosts, known, `virtlab inventory of ${store.state.instance} (lab ${store.state.lab})`),
  );
  return EXIT.ok;
}

/** `virtlab provision <lab>`: the machines' playbooks once more, on a lab that is up. */
export async function provision(o: Options): Promise<number> {
  const store = instanceStore(oneLab(o, 'provision'));
  const lab = instanceLab(store.state);
  const provisioner = provisionerOption(o);
  checkPlaybooks(lab, provisioner);
  const problems = ansibleProblems(lab, provisioner);
  if (problems.length) throw new HostError(problems[0]!.what, problems[0]!.hint);
  if (!lab.machines.some((m) => m.provision))
    throw new HostError(
      `no machine of lab ${lab.name} has a playbook`,
      'machines.yml names one with provision: <file>',
    );
  const emit = reporter(o);
  const { signal, dispose, exitCode: stopped } = interrupts();
  const s = makeSession(lab, store, providerFor(store.state).attach(store), emit, signal);
  const t0 = performance.now();
  emit({ type: 'stage-start', stage: 'provision' });
  let ok = false;
  try {
    await runProvisioning(s, { emit, provisioner, signal });
    ok = true;
    return stopped() ?? EXIT.ok;
  } finally {
    emit({ type: 'stage-end', stage: 'provision', durationMs: Math.round(performance.now() - t0), ok });
    dispose();
    await closeAll(s);
  }
}
