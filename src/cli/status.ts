// `virtlab status`: the lab instances that are up, with their machines, networks and guests (IP, MAC and lease,
// asked of the machines of an instance that is up), and their age; --json for tools.
import { existsSync } from 'node:fs';
import { EXIT } from '../errors.ts';
import { home } from '../host/home.ts';
import { runnerAlive } from '../host/instance.ts';
import { type StateStore, StateStore as Store } from '../host/state.ts';
import { guestLease } from '../kinds/facts.ts';
import { closeAll, makeSession } from '../kinds/session.ts';
import { instanceLab } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import type { Options } from './args.ts';
import { fmtAge } from './runs.ts';

interface GuestRow {
  name: string;
  on: string;
  network: string;
  mac: string;
  ip?: string;
  lease: string;
}

async function guestsOf(st: StateStore): Promise<{ guests: GuestRow[]; networks: string[] }> {
  let lab: ReturnType<typeof instanceLab>;
  try {
    lab = instanceLab(st.state);
  } catch {
    return { guests: [], networks: [] };
  }
  const networks = [
    ...lab.networks.map(
      (n) => `${n.name} ${n.subnet} (gateway ${n.gateway}${n.dhcp ? `, DHCP ${n.dhcp.start}-${n.dhcp.end}` : ''})`,
    ),
    ...lab.libvirtNetworks.map(
      (n) =>
        `${n.name} on ${n.on} (libvirt, ${n.forward}${n.dev ? ` on ${n.dev}` : n.bridge ? ` on ${n.bridge}` : ''})`,
    ),
  ];
  // only an instance that is up, whose key is still there, is asked (a forged or half-removed one is not reached)
  const live = (st.state.status === 'up' || st.state.status === 'kept') && existsSync(st.state.keyFile);
  if (!live || !lab.guests.length)
    return {
      guests: lab.guests.map((g) => ({ name: g.name, on: g.on, network: g.network, mac: g.mac, lease: '' })),
      networks,
    };
  const s = makeSession(lab, st, providerFor(st.state).attach(st), () => {}, AbortSignal.timeout(20000));
  try {
    const guests = await Promise.all(
      lab.guests.map(async (g): Promise<GuestRow> => {
        const row = { name: g.name, on: g.on, network: g.network, mac: g.mac };
        try {
          const { lease, via } = await guestLease(s, g);
          return lease
            ? { ...row, ip: lease.ip, lease: `leased${via ? ` ${via}` : ''}` }
            : { ...row, lease: 'no lease' };
        } catch (e) {
          return { ...row, lease: `cannot tell: ${(e as Error).message.split('\n')[0]}` };
        }
      }),
    );
    return { guests, networks };
  } finally {
    await closeAll(s);
  }
}

export async function status(o: Options): Promise<number> {
  const { stores, broken } = Store.scan(home());
  const chosen = o.args.length ? stores.filter((st) => o.args.includes(st.state.instance)) : stores;
  const rows = await Promise.all(
    chosen.map(async (st) => {
      const s = st.state;
      const provider = providerFor(s);
      return {
        instance: s.instance,
        lab: s.lab,
        runId: s.runId,
        provider: s.provider,
        status: s.status,
        runner: runnerAlive(st) ? s.runner.pid : null,
        since: s.createdAt,
        ageS: Math.round((Date.now() - Date.parse(s.createdAt)) / 1000),
        machines: s.machines.map((m) => {
          const d = provider.describe(m);
          return {
            name: m.name,
            role: m.role,
            address: m.address,
            ram: m.ram,
            vcpu: m.vcpu,
            kind: d.kind,
            detail: d.detail,
            ...d.data,
          };
        }),
        // one instance that cannot be asked (being torn down, a machine gone) never hides the others
        ...(await guestsOf(st).catch((e) => ({
          guests: [] as GuestRow[],
          networks: [] as string[],
          problem: `cannot ask its machines: ${(e as Error).message.split('\n')[0]}`,
        }))),
      };
    }),
  );
  if (o.json) {
    console.log(JSON.stringify(rows, null, 2));
    for (const b of broken) console.error(`cannot use ${b.path}: ${b.why}`);
    return broken.length ? EXIT.host : EXIT.ok;
  }
  if (!rows.length && !broken.length) console.log('no lab instance is up');
  for (const r of rows) {
    const state =
      r.status === 'kept'
        ? 'up'
        : r.runner
          ? `${r.status} (runner pid ${r.runner})`
          : r.status === 'down'
            ? 'left over: run virtlab down'
            : `${r.status}, runner gone: run virtlab down ${r.instance}`;
    console.log(`${r.instance}  lab ${r.lab}, run ${r.runId}, ${state}, age ${fmtAge(r.ageS)}`);
    console.log('  machines:');
    for (const m of r.machines) {
      const extra = m.kind === 'namespace' ? '' : `, ${m.kind}${m.detail ? ` ${m.detail}` : ''}`;
      console.log(
        `    ${m.name.padEnd(15)} ${m.role.padEnd(10)} ${m.address.padEnd(15)} ${m.ram} MiB, ${m.vcpu} vCPU${extra}`,
      );
    }
    if ('problem' in r) console.log(`  ${r.problem}`);
    if (r.networks.length) console.log('  networks:');
    for (const n of r.networks) console.log(`    ${n}`);
    if (r.guests.length) console.log('  guests:');
    for (const g of r.guests)
      console.log(
        `    ${g.name.padEnd(15)} on ${g.on.padEnd(12)} ${(g.ip ?? '-').padEnd(15)} ${g.mac}  ${g.network}  ${g.lease}`,
      );
  }
  for (const b of broken) console.error(`cannot use ${b.path}: ${b.why}`);
  return broken.length ? EXIT.host : EXIT.ok;
}
