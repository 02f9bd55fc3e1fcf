// Commands that touch machines: run, up, down, check, ssh, status, doctor.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadInventory } from '../providers/ssh/inventory.ts';
import { hostAccel } from '../providers/vm/accel.ts';
import { machineImages } from '../providers/vm/image.ts';
import { nestedReport, vmProblems } from '../providers/vm/preflight.ts';
import { join } from 'node:path';
import { EXIT, HostError, UsageError } from '../errors.ts';
import { loadLab } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import { hostProblems, which } from '../providers/netns/preflight.ts';
import { createConsoleReporter } from '../report/console.ts';
import type { Emit, RunEvent } from '../report/events.ts';
import { runAssertion } from '../assertions/index.ts';
import { home } from '../runner/home.ts';
import { existingInstance, runnerAlive } from '../runner/instance.ts';
import { runWithRetry } from '../runner/retry.ts';
import type { RunOutcome } from '../runner/run.ts';
import { explain, instructions, score } from './course.ts';
import { writeReports } from '../runner/report-files.ts';
import { mkdirSync } from 'node:fs';
import { closeAll, makeSession } from '../runner/session.ts';
import { StateStore } from '../runner/state.ts';
import { teardown } from '../runner/teardown.ts';
import { commandLine } from '../transport/quote.ts';
import type { Command, Options } from './args.ts';
import { interrupts } from './interrupts.ts';

function reporter(o: Options): Emit {
  if (o.json)
    return (e: RunEvent) => process.stdout.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
  return createConsoleReporter({
    color: o.color,
    tty: !!process.stdout.isTTY,
    verbose: o.verbose,
    write: (s) => process.stdout.write(s),
  });
}

function oneLab(o: Options, verb: string): string {
  if (o.args.length !== 1) throw new UsageError(`${verb} needs exactly one lab`, `virtlab ${verb} <lab>`);
  return o.args[0]!;
}

async function lifecycle(o: Options, mode: 'run' | 'up'): Promise<number> {
  const ref = oneLab(o, mode);
  const base = loadLab(ref, undefined, o.variant);
  // a lab with variants runs each of them (one after another) unless --variant picks one; `up` keeps one variant
  const variants = o.variant ? [o.variant] : base.variants.length && mode === 'run' ? base.variants : [undefined];
  const { signal, dispose, exitCode: stopped } = interrupts();
  const outcomes: { variant?: string; out: RunOutcome }[] = [];
  try {
    for (const v of variants) {
      if (signal.aborted) break;
      const lab = v === base.variant ? base : loadLab(ref, undefined, v);
      if (variants.length > 1 && !o.json)
        console.log(
          `\n=== ${lab.name}, variant ${v} (${Object.entries(lab.params)
            .map(([k, x]) => `${k}=${x}`)
            .join(', ')}) ===`,
        );
      const out = await runWithRetry(
        lab,
        {
          mode,
          provider: o.provider ?? 'netns',
          inventory: o.inventory,
          kernel: o.kernel,
          reportDir: o.reportDir && variants.length > 1 ? join(o.reportDir, v!) : o.reportDir,
          keep: o.keep,
          until: o.until,
          skip: o.skip,
          name: o.name,
          collect: 'on-failure',
          reportFormats: reportFormats(o),
          readyTimeoutMs: Number(process.env.VIRTLAB_READY_TIMEOUT ?? 45) * 1000,
        },
        reporter(o),
        signal,
      );
      outcomes.push({ variant: v, out });
      if (mode === 'up' && out.exitCode === EXIT.ok && out.store && !o.json) {
        printAccess(out.store);
        const from = o.until ?? lab.exercise?.from;
        const st = out.store.state;
        if (from)
          process.stdout.write(
            instructions(
              lab,
              from,
              st.instance,
              (name) => st.machines.find((m) => m.name === name)?.vm?.guestVirt ?? 'qemu',
            ),
          );
      } else if (o.keep && out.store && !o.json && out.result !== 'interrupted') printAccess(out.store);
      if (o.keep && variants.length > 1) break; // a kept instance blocks the next variant's instance name
    }
  } finally {
    dispose();
  }
  if (variants.length > 1 && !o.json) {
    console.log(`\n${base.name}: ${outcomes.length} variant${outcomes.length === 1 ? '' : 's'}`);
    for (const { variant, out } of outcomes) {
      const passed = out.results.filter((r) => r.status === 'pass').length;
      console.log(
        `  ${out.result.toUpperCase().padEnd(11)} ${variant!.padEnd(20)} ${passed}/${out.results.length} assertions as expected${out.reportDir ? `   ${out.reportDir}` : ''}`,
      );
    }
  }
  const worst = [EXIT.interrupted, EXIT.host, EXIT.usage, EXIT.assertion].find((c) =>
    outcomes.some((x) => x.out.exitCode === c),
  );
  return stopped() ?? worst ?? EXIT.ok;
}

function reportFormats(o: Options): string[] {
  const known = ['json', 'junit', 'html', 'tap'];
  const list = (o.reportFormat ?? 'json,junit,html')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const f of list)
    if (!known.includes(f)) throw new UsageError(`unknown report format "${f}"`, `formats: ${known.join(', ')}`);
  return list;
}

function printAccess(store: StateStore): void {
  const s = store.state;
  console.log(`\nlab ${s.lab} is up as instance "${s.instance}". Reach its machines with:`);
  for (const m of s.machines) console.log(`  virtlab ssh ${s.instance} ${m.name}        (${m.role}, ${m.mgmtHost})`);
  console.log(`check it with: virtlab check ${s.instance}     remove it with: virtlab down ${s.instance}`);
}

function instanceStore(name: string): StateStore {
  const st = existingInstance(home(), name);
  if (!st) {
    const up = StateStore.list(home()).map((x) => x.state.instance);
    throw new HostError(
      `no lab instance "${name}" is up`,
      up.length ? `instances up: ${up.join(', ')}` : 'start one with: virtlab up <lab>',
    );
  }
  return st;
}

async function down(o: Options): Promise<number> {
  const h = home();
  const stores = o.all ? StateStore.list(h) : [instanceStore(oneLab(o, 'down'))];
  if (!stores.length) {
    console.log('nothing to remove: no lab instance is up');
    return EXIT.ok;
  }
  const emit = reporter(o);
  let leaked = 0;
  for (const store of stores) {
    const s = store.state;
    if (s.runnerPid !== process.pid && runnerAlive(store) && s.status !== 'kept') {
      // a run is still going: ask it to stop and clean up after itself
      process.kill(s.runnerPid, 'SIGTERM');
      for (let i = 0; i < 200 && existsSync(store.path) && runnerAlive(store); i++)
        await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(store.path)) {
        console.log(`${s.instance}: the running instance stopped and removed itself`);
        continue;
      }
    }
    const fresh = existsSync(store.path) ? StateStore.load(store.path) : store;
    const leaks = await teardown(providerFor(fresh.state), fresh, emit);
    if (leaks.length) {
      leaked++;
      console.error(`${s.instance}: still there: ${leaks.join(', ')}`);
    } else
      console.log(`${s.instance}: removed (${fresh.state.resources.length} resources of run ${s.runId}); nothing left`);
  }
  return leaked ? EXIT.host : EXIT.ok;
}

function status(o: Options): number {
  const stores = StateStore.list(home());
  const rows = stores.map((st) => {
    const s = st.state;
    return {
      instance: s.instance,
      lab: s.lab,
      runId: s.runId,
      provider: s.provider,
      status: s.status,
      runner: runnerAlive(st) ? s.runnerPid : null,
      since: s.createdAt,
      ageS: Math.round((Date.now() - Date.parse(s.createdAt)) / 1000),
      machines: s.machines.map((m) => ({
        name: m.name,
        role: m.role,
        address: m.mgmtHost,
        ram: m.ram,
        vcpu: m.vcpu,
        ...(m.vm
          ? { vm: { kernel: m.vm.kernel, accel: m.vm.accel, guests: m.vm.guestVirt, console: m.vm.console } }
          : {}),
      })),
    };
  });
  if (o.json) {
    console.log(JSON.stringify(rows, null, 2));
    return EXIT.ok;
  }
  if (!rows.length) console.log('no lab instance is up');
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
    for (const m of r.machines) {
      const vm = m.vm
        ? `, VM (${m.vm.accel.toUpperCase()}) kernel ${m.vm.kernel}${m.vm.guests ? `, guests under ${m.vm.guests === 'kvm' ? 'KVM' : 'TCG'}` : ''}, console ${m.vm.console}`
        : '';
      console.log(
        `  ${m.name.padEnd(15)} ${m.role.padEnd(10)} ${m.address.padEnd(15)} ${m.ram} MiB, ${m.vcpu} vCPU${vm}`,
      );
    }
  }
  return EXIT.ok;
}

function fmtAge(s: number): string {
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function ssh(o: Options): number {
  if (o.args.length !== 2)
    throw new UsageError('ssh needs a lab instance and a machine', 'virtlab ssh <lab> <machine> [-- command ...]');
  const store = instanceStore(o.args[0]!);
  const m = store.state.machines.find((x) => x.name === o.args[1]);
  if (!m)
    throw new UsageError(
      `instance ${o.args[0]} has no machine "${o.args[1]}"`,
      `its machines: ${store.state.machines.map((x) => x.name).join(', ')}`,
    );
  // netns machines: the run's own key; existing hosts (ssh provider): what the inventory says
  const inv = store.state.inventory ? loadInventory(store.state.inventory).hosts.get(m.name) : undefined;
  const key = inv?.key ?? store.state.keyFile;
  const known = join(tmpdir(), `virtlab-known-${process.pid}`);
  const hostKey = inv ? inv.hostKey : `ssh-ed25519 ${m.hostKey}`;
  writeFileSync(
    known,
    hostKey ? `${inv && inv.port !== 22 ? `[${m.mgmtHost}]:${inv.port}` : m.mgmtHost} ${hostKey}\n` : '',
    { mode: 0o600 },
  );
  const argv = [
    '-q',
    '-i',
    key,
    '-o',
    `UserKnownHostsFile=${known}`,
    '-o',
    `StrictHostKeyChecking=${hostKey ? 'yes' : 'ask'}`,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
    ...(inv ? ['-p', String(inv.port)] : []),
    ...(o.rest.length ? [] : ['-t']),
    `${inv?.user ?? 'root'}@${m.mgmtHost}`,
    ...(o.rest.length ? ['--', commandLine(o.rest, { sudo: inv?.sudo })] : []),
  ];
  if (!which('ssh')) throw new HostError('the ssh client is missing', 'apt-get install -y openssh-client');
  try {
    const r = spawnSync('ssh', argv, { stdio: 'inherit' });
    return r.status ?? EXIT.host;
  } finally {
    rmSync(known, { force: true });
  }
}

async function check(o: Options): Promise<number> {
  const store = instanceStore(oneLab(o, 'check'));
  const lab = loadLab(store.state.labFile, undefined, store.state.variant);
  const emit = reporter(o);
  const s = makeSession(lab, store, providerFor(store.state).attach(store), emit, new AbortController().signal);
  const t0 = performance.now();
  try {
    const results = await Promise.all(lab.assertions.map((a) => runAssertion(a, s)));
    for (const r of results) emit({ type: 'assertion', result: r });
    const failed = results.some((r) => r.status === 'fail');
    const sc = score(results);
    const durationMs = Math.round(performance.now() - t0);
    if (o.reportDir) {
      mkdirSync(o.reportDir, { recursive: true, mode: 0o700 });
      writeReports(
        o.reportDir,
        {
          lab: lab.name,
          description: lab.description,
          instance: store.state.instance,
          runId: store.state.runId,
          provider: store.state.provider,
          result: failed ? 'fail' : 'pass',
          exitCode: failed ? 1 : 0,
          startedAt: new Date().toISOString(),
          durationMs,
          stages: { assert: durationMs },
          steps: [],
          assertions: results,
          machines: lab.machines.map((m) => ({ name: m.name, role: m.role, ram: m.ram, vcpu: m.vcpu })),
          images: [],
          files: [],
          score: sc,
        },
        lab,
        reportFormats(o),
      );
    }
    emit({
      type: 'run-end',
      result: failed ? 'fail' : 'pass',
      exitCode: failed ? 1 : 0,
      durationMs,
      message: `score ${sc.points}/${sc.max}`,
      reportDir: o.reportDir,
    });
    return failed ? EXIT.assertion : EXIT.ok;
  } finally {
    await closeAll(s);
  }
}

async function doctor(o: Options): Promise<number> {
  const problems = await hostProblems(true);
  const kvm = existsSync('/dev/kvm');
  const accel = hostAccel();
  const vmProblemsNow = vmProblems([
    { name: 'kvm-01', role: 'hypervisor', ram: 2048, vcpu: 2, nested: true, nics: [] },
  ]);
  const images = machineImages(home());
  const lines = [
    `root:            ${process.getuid?.() === 0 ? 'yes' : 'no'}`,
    `/dev/kvm:        ${kvm ? `present${accel.accel === 'tcg' ? ' but not usable for ordinary guests (the CPU offers no vmx/svm: a PVM-only KVM)' : ''}` : 'absent'}`,
    `netns provider:  machines share this host's kernel; their guests run under QEMU TCG (virt-install --virt-type qemu)`,
    ...nestedReport(),
    `guest image:     ${existsSync(join(home().images, 'cirros.qcow2')) ? join(home().images, 'cirros.qcow2') : 'not built yet (built on first run: scripts/build-guest-image.sh)'}`,
    `machine image:   ${images.length ? images.map((i) => `${i.dir} (kernels ${i.kernels.map((k) => k.version).join(', ')})`).join('; ') : 'not built yet (built on first vm run, about 1.5 min: scripts/build-vm-image.sh)'}`,
    `state folder:    ${home().root}`,
  ];
  if (o.json)
    console.log(
      JSON.stringify(
        {
          ok: !problems.length,
          problems,
          kvm,
          vm: { accel: accel.accel, why: accel.why, problems: vmProblemsNow, images },
        },
        null,
        2,
      ),
    );
  else {
    for (const l of lines) console.log(l);
    if (!problems.length)
      console.log(
        `\nall checks passed: this host can run every lab with the netns provider${vmProblemsNow.length ? '' : ' and the vm provider'}`,
      );
    for (const p of problems) console.log(`\nproblem: ${p.what}${p.hint ? `\n  fix: ${p.hint}` : ''}`);
    for (const p of vmProblemsNow) console.log(`\nvm provider: ${p.what}${p.hint ? `\n  fix: ${p.hint}` : ''}`);
  }
  return problems.length ? EXIT.host : EXIT.ok;
}

/** Back to a known step: the instance is removed and brought up again to that step, under the same name. */
async function reset(o: Options): Promise<number> {
  const store = instanceStore(oneLab(o, 'reset'));
  const s = store.state;
  const to = o.to ?? s.until;
  const lab = loadLab(s.labFile, undefined, s.variant);
  const downCode = await down({ ...o, args: [s.instance], all: false });
  if (downCode !== EXIT.ok) return downCode;
  // the same provider, hosts and kernel as before, unless the command line says otherwise
  const kernel = o.kernel ?? s.machines.find((m) => m.vm && m.role === 'hypervisor')?.vm?.kernel;
  const again = {
    ...o,
    args: [s.labFile],
    name: s.instance,
    until: to,
    variant: s.variant,
    keep: true,
    provider: o.provider ?? s.provider,
    inventory: o.inventory ?? s.inventory,
    kernel,
  };
  return lifecycle(again, 'up').then((c) => {
    if (c === EXIT.ok)
      console.log(`${s.instance}: reset to ${to ? `before step "${to}"` : `the end of setup`} of ${lab.name}`);
    return c;
  });
}

function explainCmd(o: Options): number {
  process.stdout.write(explain(loadLab(oneLab(o, 'explain'), undefined, o.variant)));
  return EXIT.ok;
}

export const COMMAND_HANDLERS: Record<
  Exclude<Command, 'list' | 'validate' | 'plan' | 'graph' | 'matrix' | 'diff' | 'help'>,
  (o: Options) => Promise<number> | number
> = {
  run: (o) => lifecycle(o, 'run'),
  up: (o) => lifecycle(o, 'up'),
  down,
  check,
  ssh,
  status,
  doctor,
  reset,
  explain: explainCmd,
};
