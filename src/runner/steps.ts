// Executes one setup step on its machine; every object it creates is recorded in the state first.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hasTemplates, render } from '../lab/variants.ts';
import * as cmd from '../hypervisor/commands.ts';
import * as ops from '../hypervisor/ops.ts';
import { HostError } from '../errors.ts';
import { assertionNodes, qemuMacvtapName, type Step } from '../lab/model.ts';
import type { StepStatus } from '../report/events.ts';
import type { ResolvedImage } from './images.ts';
import { waitReady } from './ready.ts';
import { runAssertion } from '../assertions/index.ts';
import { ConsoleExecutor } from '../transport/console.ts';
import { exec, nodeExec, type Session } from './session.ts';
import { allDone } from './parallel.ts';

export interface StepOutcome {
  status: StepStatus;
  detail?: string;
}

export async function executeStep(step: Step, s: Session, images: Map<string, ResolvedImage>): Promise<StepOutcome> {
  const rec = s.store.record.bind(s.store);
  switch (step.kind) {
    case 'upload': {
      const x = exec(s, step.to);
      const jobs = [
        ...step.files.map((f) => ({ local: renderedFile(s, f.src, f.rel), remote: cmd.labFilePath(f.rel) })),
        ...step.images.map((i) => ({ local: images.get(i.ref)!.path, remote: cmd.imagePath(i) })),
        // guests with a static address boot the image's kernel directly
        ...step.images
          .filter((i) => s.lab.guests.some((g) => g.on === step.to && g.image.ref === i.ref && g.staticIp))
          .flatMap((i) => {
            const r = images.get(i.ref)!;
            if (!r.kernel || !r.initrd)
              throw new HostError(`image ${i.ref} (${r.source}) has no kernel for a guest with a static address`);
            return [
              { local: r.kernel, remote: cmd.kernelPath(i) },
              { local: r.initrd, remote: cmd.initrdPath(i) },
            ];
          }),
      ];
      // folders virtlab creates on the machine are removed again at teardown (existing hosts keep nothing)
      const dirs = [...new Set(jobs.flatMap((j) => parents(j.remote)))].sort((a, b) => b.length - a.length);
      const missing = await Promise.all(
        dirs.map(async (d) => ((await x.run(['test', '-d', d], { check: false })).exitCode !== 0 ? d : undefined)),
      );
      for (const d of missing.filter((m): m is string => !!m).reverse())
        rec({ kind: 'undo', what: `folder ${d}`, owner: step.to, argv: ['rmdir', '--', d] });
      const done = await allDone(
        jobs.map(async (j) => {
          rec({ kind: 'remote-file', path: j.remote, owner: step.to });
          return x.upload(j.local, j.remote);
        }),
      );
      const copied = done.filter((d) => !d.skipped);
      const bytes = copied.reduce((n, d) => n + d.bytes, 0);
      return {
        status: copied.length ? 'changed' : 'ok',
        detail: `${copied.length} copied (${(bytes / 1048576).toFixed(1)} MiB), ${done.length - copied.length} already there`,
      };
    }
    case 'net-define': {
      rec({ kind: 'libvirt-network', name: step.network, owner: step.on });
      await ops.defineNetwork(exec(s, step.on), step.network, cmd.labFilePath(step.rel));
      return { status: 'changed' };
    }
    case 'net-start':
      await ops.startNetwork(exec(s, step.on), step.network);
      return { status: 'changed' };
    case 'promisc': {
      const x = exec(s, step.on);
      const before = (await x.run(['ip', '-o', 'link', 'show', 'dev', step.nic])).stdout;
      const was = /<[^>]*PROMISC/.test(before) ? 'on' : 'off';
      if (was !== step.state)
        rec({
          kind: 'undo',
          what: `promiscuous mode of ${step.nic}`,
          owner: step.on,
          argv: cmd.promisc(step.nic, was),
        });
      await ops.setPromisc(x, step.nic, step.state);
      return { status: was === step.state ? 'ok' : 'changed' };
    }
    case 'guest': {
      const g = step.guest;
      rec({ kind: 'remote-file', path: cmd.guestDiskPath(g), owner: step.on });
      rec({ kind: 'remote-file', path: `/run/virtlab-console-${g.name}.pid`, owner: step.on });
      if (g.qemu) {
        rec({
          kind: 'undo',
          what: `bare QEMU guest ${g.name} and its macvtap`,
          owner: step.on,
          argv: [
            'sh',
            '-c',
            'kill "$(cat "$0")" 2>/dev/null; sleep 0.2; ip link delete "$1" 2>/dev/null; rm -f "$0"; true',
            cmd.qemuPidPath(g.name),
            qemuMacvtapName(g.name),
          ],
        });
        rec({ kind: 'remote-file', path: cmd.consoleLogPath(g.name), owner: step.on });
        rec({ kind: 'remote-file', path: cmd.qemuOutPath(g.name), owner: step.on });
      } else rec({ kind: 'domain', name: g.name, owner: step.on });
      await ops.launchGuest(exec(s, step.on), step.guest, s.machines.get(step.on)?.guestVirt ?? 'qemu');
      // get the serial console ready while the guest boots (checks from inside the guest use it)
      const c = nodeExec(s, step.guest.name);
      if (c instanceof ConsoleExecutor) c.attach().catch(() => {});
      return { status: 'changed', detail: `mac ${step.guest.mac}` };
    }
    case 'check': {
      // a phase of the lab: these checks run now, while the lab is in this state
      const lab = s.lab;
      const checks = step.assertions.map((id) => lab.assertions.find((a) => a.id === id)!);
      // the guests these checks involve must have booted first
      const names = new Set(checks.flatMap(assertionNodes));
      await Promise.all(lab.guests.filter((g) => names.has(g.name)).map((g) => waitReady(s, g, 60000)));
      const results = await Promise.all(checks.map((a) => runAssertion(a, s)));
      for (const r of results) s.emit({ type: 'assertion', result: r });
      const bad = results.filter((r) => r.status === 'fail').length;
      return { status: 'ok', detail: `${results.length - bad}/${results.length} as expected` };
    }
    case 'attach-interface':
      await exec(s, step.on).run(cmd.attachInterface(step.guest, step.network, step.mac));
      return { status: 'changed' };
    case 'hairpin': {
      const u = s.underlays.get(step.network);
      const port = u?.ports.find((p) => p.machine === step.machine && p.nic === step.nic)?.port;
      if (!u || !port) throw new HostError(`no switch port for ${step.machine} ${step.nic} on ${step.network}`);
      await u.exec.run(['bridge', 'link', 'set', 'dev', port, 'hairpin', step.state]);
      return { status: 'changed', detail: `port ${port}` };
    }
    case 'command': {
      if (step.guest) {
        // a guest answers on its console once it has booted
        await waitReady(s, s.lab.guests.find((g) => g.name === step.on)!, 60000);
        const r = await nodeExec(s, step.on).run(step.argv!, { timeoutMs: 60000 });
        return { status: 'changed', detail: r.stdout.trim().split('\n').pop()?.slice(0, 120) || undefined };
      }
      const x = exec(s, step.on);
      if (step.argv) {
        const r = await x.run(step.argv, { timeoutMs: 300000 });
        return { status: 'changed', detail: r.stdout.trim().split('\n').pop()?.slice(0, 120) };
      }
      const remote = cmd.labFilePath(step.script!.rel);
      await x.run(['mkdir', '-p', dirname(remote)]);
      await x.upload(step.script!.src, remote, { mode: 0o755 });
      const r = await x.run(['sh', remote], { timeoutMs: 300000 });
      return { status: 'changed', detail: r.stdout.trim().split('\n').pop()?.slice(0, 120) };
    }
  }
}

/** A lab file with {{ parameters }} is uploaded as rendered for this run's variant. */
function renderedFile(s: Session, src: string, rel: string): string {
  if (!Object.keys(s.lab.params).length) return src;
  const text = readFileSync(src, 'utf8');
  if (!hasTemplates(text)) return src;
  const out = join(s.store.state.runDir, 'rendered', rel);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  writeFileSync(out, render(text, s.lab.params, src).text, { mode: 0o600 });
  return out;
}

/** /a/b/c/file -> [/a/b/c, /a/b, /a] */
function parents(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) out.push(d);
  return out;
}
