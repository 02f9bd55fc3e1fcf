// Reaching a lab that is up: a shell (ssh), one command on many machines (exec), an OpenSSH config for plain ssh,
// scp and Ansible (ssh-config), a guest's serial console (console), and packets on a wire (capture).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HostError, UsageError } from '../errors.ts';
import type { MachineRecord, StateStore } from '../host/state.ts';
import { consoleLogPath } from '../hypervisor/commands.ts';
import { guestDevice, guestOf } from '../kinds/facts.ts';
import { closeAll, makeSession, nodeExec } from '../kinds/session.ts';
import { instanceLab } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import type { SshAccess } from '../providers/port.ts';
import { knownHostsText } from '../runner/ansible.ts';
import { ansibleHosts } from '../runner/provision.ts';
import type { ConsoleExecutor } from '../transport/console.ts';
import { commandLine } from '../transport/quote.ts';
import type { Options } from './args.ts';
import { sshConfigText, writeHandout } from './handout.ts';
import { instanceStore } from './instances.ts';
import { interrupts } from './interrupts.ts';
import { reporter } from './output.ts';

function machineOf(store: StateStore, name: string): MachineRecord {
  const m = store.state.machines.find((x) => x.name === name);
  if (!m) {
    const names = store.state.machines.map((x) => x.name).join(', ');
    throw new UsageError(`instance ${store.state.instance} has no machine "${name}"`, `its machines: ${names}`);
  }
  return m;
}

/** The pinned host keys of an instance, in one known_hosts file of its run folder (ssh, ssh-config, inventory). */
export function knownHosts(store: StateStore): string {
  const dir = join(store.state.runDir, 'ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'known_hosts');
  writeFileSync(file, knownHostsText(ansibleHosts({ store })), { mode: 0o600 });
  return file;
}

/** ssh's argv to reach a machine: the run's key, its pinned host key, and nothing from the user's ssh config. */
function sshArgv(a: SshAccess, known: string, tty: 'no' | 'yes' | 'force', remote?: string[]): string[] {
  return [
    ...['-q', '-i', a.keyFile, '-o', `UserKnownHostsFile=${known}`],
    ...['-o', `StrictHostKeyChecking=${a.hostKey ? 'yes' : 'ask'}`, '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR'],
    ...(a.port !== 22 ? ['-p', String(a.port)] : []),
    ...(tty === 'force' ? ['-tt'] : tty === 'yes' ? ['-t'] : ['-T']),
    `${a.user}@${a.host}`,
    ...(remote ? ['--', commandLine(remote, { sudo: a.sudo })] : []),
  ];
}

function runSsh(argv: string[], stdout: 'inherit' | number = 'inherit'): number {
  const r = spawnSync('ssh', argv, { stdio: ['inherit', stdout, 'inherit'] });
  if (r.error) throw new HostError(`cannot run ssh: ${r.error.message}`, 'apt-get install -y openssh-client');
  return r.status ?? EXIT.host;
}

export function ssh(o: Options): number {
  if (o.args.length !== 2)
    throw new UsageError('ssh needs a lab instance and a machine', 'virtlab ssh <lab> <machine> [-- command ...]');
  const store = instanceStore(o.args[0]!);
  const a = providerFor(store.state).access(store, machineOf(store, o.args[1]!));
  return runSsh(sshArgv(a, knownHosts(store), o.rest.length ? 'no' : 'yes', o.rest.length ? o.rest : undefined));
}

/** `virtlab ssh-config <lab>`: for plain ssh, scp and Ansible; `--handout <dir>`: a folder to give a student. */
export function sshConfig(o: Options): number {
  const store = instanceStore(o.args[0]!);
  if (o.handout !== undefined) {
    const conf = writeHandout(store, o.handout);
    console.log(`wrote ${conf} with the instance's key and host keys: ssh -F ${conf} <machine>`);
    return EXIT.ok;
  }
  process.stdout.write(sshConfigText(store, (a) => a.keyFile, knownHosts(store)));
  return EXIT.ok;
}

/** `virtlab exec <lab> --all -- cmd`: the command on every machine at once, each line prefixed with its machine. */
export async function exec(o: Options): Promise<number> {
  const store = instanceStore(o.args[0]!);
  if (!o.rest.length) throw new UsageError('exec needs a command after --', 'virtlab exec <lab> --all -- ip -br addr');
  if (o.all === !!o.machines) throw new UsageError('exec needs --all or --machines <list> (not both)');
  const names = o.all ? store.state.machines.map((m) => m.name) : o.machines!.split(',').map((x) => x.trim());
  for (const n of names) machineOf(store, n);
  const handles = providerFor(store.state)
    .attach(store)
    .machines.filter((m) => names.includes(m.name));
  const w = Math.max(...names.map((n) => n.length));
  const { signal, dispose } = interrupts();
  try {
    const codes = await Promise.all(
      handles.map(async (m) => {
        const r = await m.exec.run(o.rest, { check: false, signal, timeoutMs: 3600000 });
        const prefix = `${m.name.padEnd(w)} | `;
        if (o.json)
          console.log(JSON.stringify({ machine: m.name, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }));
        else {
          for (const l of r.stdout.replace(/\n$/, '').split('\n'))
            if (r.stdout) process.stdout.write(`${prefix}${l}\n`);
          for (const l of r.stderr.replace(/\n$/, '').split('\n'))
            if (r.stderr) process.stderr.write(`${prefix}${l}\n`);
          if (r.exitCode !== 0) process.stderr.write(`${prefix}(exit ${r.exitCode})\n`);
        }
        return r.exitCode;
      }),
    );
    return codes.find((c) => c !== 0) ?? EXIT.ok;
  } finally {
    dispose();
    await Promise.all(handles.map((m) => m.exec.close()));
  }
}

/** The hypervisor a guest runs on, and the guest, of a lab instance. */
function guestAt(store: StateStore, name: string) {
  const lab = instanceLab(store.state);
  const g = lab.guests.find((x) => x.name === name);
  if (!g) {
    const names = lab.guests.map((x) => x.name).join(', ') || '(none)';
    throw new UsageError(`lab ${lab.name} has no guest "${name}"`, `its guests: ${names}`);
  }
  return { lab, g };
}

/**
 * `virtlab console <lab> <guest>`: the guest's serial console. What the guest prints is followed in its console log
 * (a reader virtlab keeps on the pty drains it); what you type goes to the pty. Ctrl-] leaves. --log: what it said
 * since boot.
 */
export async function consoleCmd(o: Options): Promise<number> {
  if (o.args.length !== 2)
    throw new UsageError('console needs a lab instance and a guest', 'virtlab console <lab> <guest>');
  const store = instanceStore(o.args[0]!);
  const { lab, g } = guestAt(store, o.args[1]!);
  const a = providerFor(store.state).access(store, machineOf(store, g.on));
  const known = knownHosts(store);
  if (o.log) return runSsh(sshArgv(a, known, 'no', ['cat', consoleLogPath(g.name)]));
  const s = makeSession(lab, store, providerFor(store.state).attach(store), () => {}, new AbortController().signal);
  let pty: string;
  try {
    pty = await (nodeExec(s, g.name) as ConsoleExecutor).attach();
  } finally {
    await closeAll(s);
  }
  const follow = ['sh', '-c', 'tail -c 0 -F "$0" 2>/dev/null & t=$!; cat > "$1"; kill $t', consoleLogPath(g.name), pty];
  const child = spawn('ssh', sshArgv(a, known, 'no', follow), { stdio: ['pipe', 'inherit', 'inherit'] });
  const tty = process.stdin.isTTY;
  if (tty) {
    process.stderr.write(`virtlab: console of ${g.name} on ${g.on}; Ctrl-] leaves\r\n`);
    process.stdin.setRawMode(true);
  }
  const leave = () => child.stdin.end();
  process.stdin.on('data', (d: Buffer) => {
    const i = d.indexOf(0x1d);
    if (i >= 0) {
      child.stdin.write(d.subarray(0, i));
      leave();
    } else child.stdin.write(tty ? Buffer.from(d.toString('latin1').replace(/\r/g, '\n'), 'latin1') : d);
  });
  // piped input (echo cmd | virtlab console ...): what the guest answers still comes back for a moment
  process.stdin.on('end', () => setTimeout(leave, tty ? 0 : 3000));
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 0)));
  if (tty) process.stdin.setRawMode(false);
  process.stdin.pause();
  return code === 255 ? EXIT.host : EXIT.ok;
}

/**
 * `virtlab capture <lab> <machine> [device] [--guest g] [-w file|-]`: tcpdump on the machine; with --guest, on the
 * guest's host-side device (its macvtap or tap) on its hypervisor. pcap goes to a file or to stdout with -w -.
 */
export async function capture(o: Options): Promise<number> {
  const store = instanceStore(o.args[0]!);
  let machine = o.args[1]!;
  let device = o.args[2];
  if (o.guest) {
    const { lab, g } = guestAt(store, o.guest);
    if (g.on !== machine)
      throw new UsageError(
        `guest ${g.name} runs on ${g.on}, not on ${machine}`,
        `virtlab capture ${o.args[0]} ${g.on} --guest ${g.name}`,
      );
    const s = makeSession(
      lab,
      store,
      providerFor(store.state).attach(store),
      reporter({ ...o, json: false }),
      new AbortController().signal,
    );
    try {
      device = (await guestDevice(s, guestOf(lab, g.name))).dev ?? '';
    } finally {
      await closeAll(s);
    }
    if (!device) throw new HostError(`guest ${g.name} has no host-side device on ${g.on} (is it running?)`);
  }
  if (!device) throw new UsageError('capture needs a device or --guest', 'virtlab capture <lab> <machine> <device>');
  machine = machineOf(store, machine).name;
  const a = providerFor(store.state).access(store, machineOf(store, machine));
  const count = o.count ? ['-c', String(Number(o.count))] : [];
  const pcap = o.write !== undefined;
  const tcpdump = ['tcpdump', '-i', device, '-n', ...(pcap ? ['-U', '-w', '-'] : ['-l', '-e']), ...count];
  process.stderr.write(
    `virtlab: capturing on ${device} of ${machine}${pcap && o.write !== '-' ? ` into ${o.write}` : ''}; Ctrl-C stops\n`,
  );
  const out = pcap && o.write !== '-' ? openSync(o.write!, 'w', 0o600) : 'inherit';
  try {
    const child = spawn('ssh', sshArgv(a, knownHosts(store), 'no', tcpdump), { stdio: ['ignore', out, 'inherit'] });
    // Ctrl-C ends the capture, not virtlab: ssh passes the end on and tcpdump flushes what it has
    let stopped = false;
    const onInt = () => {
      stopped = true;
      child.kill('SIGTERM');
    };
    process.on('SIGINT', onInt);
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 0)));
    process.off('SIGINT', onInt);
    return code === 255 && !stopped ? EXIT.host : EXIT.ok;
  } finally {
    if (typeof out === 'number') closeSync(out);
  }
}
