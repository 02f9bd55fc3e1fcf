// npm run bench [-- --runs N] [--quick] [--no-vm]: how fast kvm-macvtap runs, how close to the floor, how the lab scales.
// Prints a table and writes bench/results.json. Figures, never pass/fail: targets are compared in the table.
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { home } from '../src/host/home.ts';
import { StateStore } from '../src/host/state.ts';
import { NetnsProvider } from '../src/providers/netns/provider.ts';
import { benchLines, writeReadmeTable } from './readme.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
// --no-vm: leave out the vm provider's run (it needs the machine image, about 1.5 minutes to build once)
const noVm = argv.includes('--no-vm');
const runs = Number(argv[argv.indexOf('--runs') + 1] || 0) || (quick ? 2 : 5);
// what `npm run lab` runs (bin/virtlab, then the compiled CLI), without npm's own start-up
const CLI = ['bin/virtlab'];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const log = (s: string) => process.stderr.write(`${s}\n`);

function virtlab(args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(CLI[0]!, [...CLI.slice(1), ...args, '--no-color'], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr, s: (performance.now() - t0) / 1000 };
}

function hostInfo() {
  const v = spawnSync('virsh', ['-c', 'test:///default', 'version'], { encoding: 'utf8' }).stdout;
  const q = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout;
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    libvirt: /Using library: libvirt ([\d.]+)/.exec(v)?.[1],
    qemu: /QEMU emulator version ([\d.]+)/.exec(q)?.[1],
    node: process.versions.node,
  };
}

// the compiled CLI: bin/virtlab.js falls back to compiling the sources on the fly (tsx, ~0.3 s a start) when dist/
// is older than them
const build = spawnSync('npm', ['run', 'build'], { encoding: 'utf8' });
if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);

// 1. e2e vs floor, interleaved
const image = spawnSync('bash', ['scripts/build-guest-image.sh'], { encoding: 'utf8' }).stdout.trim();
const warm = join(home().cache, 'libvirt-warm');
const e2e: number[] = [];
const floor: number[] = [];
const overhead: number[] = [];
let floorCheckFailures = 0;
const stageTimes: Record<string, number[]> = {};
for (let i = 1; i <= runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-bench-'));
  const v = virtlab(['run', 'kvm-macvtap', '--name', 'bench', '--report-dir', dir]);
  if (v.code !== 0) throw new Error(`virtlab run failed in the benchmark:\n${v.out}`);
  const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  e2e.push(v.s);
  // virtlab's own time: the whole process (node start included) minus time inside commands and guest waits
  overhead.push(v.s - (rep.timing.commandMs + rep.timing.waitMs) / 1000);
  for (const [k, ms] of Object.entries<number>(rep.stages)) stageTimes[k] = [...(stageTimes[k] ?? []), ms / 1000];
  const t0 = performance.now();
  const f = spawnSync('bash', ['bench/floor.sh', image, warm], { encoding: 'utf8' });
  const fs = (performance.now() - t0) / 1000;
  const fails = Number(f.stdout.trim().split(/\s+/)[1]);
  if (f.status !== 0) throw new Error(`floor script failed: ${f.stdout}${f.stderr}`);
  // a check of the floor that failed (the floor has no retries) is counted, the time still stands
  if (fails !== 0) floorCheckFailures++;
  floor.push(fs);
  log(
    `run ${i}/${runs}: virtlab ${v.s.toFixed(2)} s (own time ${overhead[overhead.length - 1]!.toFixed(2)} s), floor ${fs.toFixed(2)} s`,
  );
}

// 2. a trivial command over the Executor, on a live machine
let sshExecMs = NaN;
let sshConnectMs = NaN;
{
  const up = virtlab(['up', 'kvm-macvtap', '--until', 'net-define', '--name', 'bench-ssh']);
  if (up.code !== 0) throw new Error(up.out);
  try {
    const store = StateStore.load(StateStore.pathFor(home(), 'bench-ssh'));
    const m = new NetnsProvider().attach(store).machines.find((x) => x.name === 'kvm-01')!;
    const c0 = performance.now();
    await m.exec.run(['true']);
    sshConnectMs = performance.now() - c0;
    const xs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await m.exec.run(['true']);
      xs.push(performance.now() - t);
    }
    sshExecMs = median(xs);
    await m.exec.close();
  } finally {
    virtlab(['down', 'bench-ssh']);
  }
}

// 3. scale: 4 hypervisors x 4 guests; RSS of everything in the lab's namespaces, sampled while it runs
function labRssMb(prefix: string): number {
  // cheap on purpose (it runs while 16 guests boot on 2 cores): namespace inodes, then /proc, no child processes
  const nss = new Set(
    (existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(prefix)) : []).map(
      (n) => `net:[${statSync(`/run/netns/${n}`).ino}]`,
    ),
  );
  let kb = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!nss.has(readlinkSync(`/proc/${p}/ns/net`))) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}
/** A scale lab: `hvs` hypervisors with `per` macvtap guests each on one LAN, a lease check per guest. */
function scaleLab(hvs: number, per: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-scale-lab-'));
  cpSync('bench/labs/scale', join(dir, 'scale'), { recursive: true });
  const hv = Array.from({ length: hvs }, (_, i) => i + 1);
  const guests = hv.flatMap((h) => Array.from({ length: per }, (_, j) => `g${h}${j + 1}`));
  const lab = {
    description: `${hvs} hypervisors x ${per} guests on one LAN, for the scale benchmark`,
    networks: { lan: { subnet: '192.168.100.0/24', dhcp: { start: '192.168.100.100', end: '192.168.100.199' } } },
    machines: {
      ...Object.fromEntries(hv.map((h) => [`hv-${h}`, { role: 'hypervisor', nics: { eth1: { network: 'lan' } } }])),
      peer: { role: 'peer', nics: { eth1: { network: 'lan' } } },
    },
    steps: [
      ...hv.flatMap((h) => [
        { id: `upload-${h}`, kind: 'upload', to: `hv-${h}`, files: ['scale/macvtap.xml'], images: ['cirros'] },
        { id: `define-${h}`, kind: 'net-define', on: `hv-${h}`, xml: 'scale/macvtap.xml' },
        { id: `start-${h}`, kind: 'net-start', on: `hv-${h}`, network: 'macvtap-net' },
      ]),
      ...guests.map((g) => ({
        id: g,
        kind: 'guest',
        on: `hv-${g.slice(1, -1)}`,
        name: g,
        image: 'cirros',
        network: 'macvtap-net',
      })),
    ],
    assertions: guests.map((g) => ({ kind: 'lease', guest: g })),
  };
  // the machine catalogue beside the lab: its hypervisors and the peer
  const catalogue = {
    machines: {
      ...Object.fromEntries(hv.map((h) => [`hv-${h}`, { role: 'hypervisor', ram: 2048, vcpu: 2 }])),
      peer: { role: 'peer', ram: 512, vcpu: 1 },
    },
  };
  writeFileSync(join(dir, 'machines.yml'), JSON.stringify(catalogue, null, 2));
  const file = join(dir, `scale-${hvs}x${per}.yml`);
  writeFileSync(file, JSON.stringify(lab, null, 2));
  return file;
}

interface ScaleRun {
  guests: number;
  hypervisors: number;
  leased_s: number;
  peak_rss_mb: number;
  teardown_s: number;
  passed: boolean;
}
function scaleRun(hvs: number, per: number): Promise<ScaleRun> {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-scale-'));
    const p = spawn(
      CLI[0]!,
      [...CLI.slice(1), 'run', scaleLab(hvs, per), '--name', 'bench-scale', '--report-dir', dir, '--json'],
      { env: { ...process.env, VIRTLAB_READY_TIMEOUT: '300' } },
    );
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, labRssMb('vl-bench-scale-'));
    }, 1000);
    let buf = '';
    let setupAt = 0;
    let readyAt = 0;
    p.stdout.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; buf = buf.slice(i + 1), i = buf.indexOf('\n')) {
        try {
          const e = JSON.parse(buf.slice(0, i));
          if (e.type === 'stage-start' && e.stage === 'setup') setupAt = Date.parse(e.time);
          if (e.type === 'stage-end' && e.stage === 'ready') readyAt = Date.parse(e.time);
        } catch {
          /* not an event */
        }
      }
    });
    p.on('close', (code) => {
      clearInterval(timer);
      try {
        const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
        resolve({
          guests: hvs * per,
          hypervisors: hvs,
          leased_s: r2((readyAt - setupAt) / 1000),
          peak_rss_mb: Math.round(peak),
          teardown_s: r2(rep.stages.teardown / 1000),
          passed: code === 0,
        });
      } catch (e) {
        reject(e);
      }
    });
  });
}
// how the figures grow with the number of guests: 1, 4 (one hypervisor), 16 (4 x 4: the target), 32 (8 x 4)
const scaleTable: ScaleRun[] = [];
for (const [hvs, per] of quick
  ? [[4, 4]]
  : [
      [1, 1],
      [1, 4],
      [4, 4],
      [8, 4],
    ]) {
  const r = await scaleRun(hvs!, per!);
  scaleTable.push(r);
  log(
    `scale: ${r.guests} guest(s) on ${r.hypervisors} hypervisor(s): every guest leased ${r.leased_s} s after setup began, peak RSS ${r.peak_rss_mb} MB, teardown ${r.teardown_s} s${r.passed ? '' : ' (FAILED)'}`,
  );
}
const scale = scaleTable.find((r) => r.guests === 16)!;

// 4. kvm-01 as a QEMU VM (vm provider): the whole lab, the VM until SSH and libvirt answer, memory of the VM. Cold
// (a cache without snapshots: the VM boots, and saves its state) then warm (the next run starts from that state).
interface VmRun {
  e2e_s: number;
  machine_up_s: number;
  peak_rss_mb: number;
  guests: string;
  passed: boolean;
  snapshot?: string;
  /** attempts the run took (an unstable attempt, such as a VM whose kernel panicked, is run again), and the last's time */
  attempts: number;
  last_attempt_s: number;
}
function vmRun(env: NodeJS.ProcessEnv): Promise<VmRun> {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-bench-vm-'));
    const t0 = performance.now();
    const p = spawn(
      CLI[0]!,
      [...CLI.slice(1), 'run', 'kvm-macvtap', '--provider', 'vm', '--name', 'bench-vm', '--report-dir', dir, '--json'],
      { env },
    );
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, labRssMb('vl-bench-vm-'));
    }, 1000);
    p.stdout.resume();
    p.on('close', (code) => {
      clearInterval(timer);
      try {
        const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
        const up = rep.steps.find((x: any) => x.id === 'up-kvm-01');
        const kvm01 = rep.machines.find((m: any) => m.name === 'kvm-01');
        resolve({
          attempts: readdirSync(dir).filter((f) => /^attempt-\d+$/.test(f)).length + 1,
          last_attempt_s: r2(rep.durationMs / 1000),
          e2e_s: r2((performance.now() - t0) / 1000),
          machine_up_s: r2((up?.durationMs ?? NaN) / 1000),
          peak_rss_mb: Math.round(peak),
          guests: kvm01?.guests,
          passed: code === 0,
          ...(kvm01?.snapshot ? { snapshot: kvm01.snapshot } : {}),
        });
      } catch (e) {
        reject(e);
      }
    });
  });
}
let vm:
  | (Omit<VmRun, 'machine_up_s'> & {
      cold_e2e_s: number;
      cold_attempts: number;
      machine_up_s: { cold: number; warm: number };
    })
  | undefined;
if (!noVm) {
  // the image is built (or found) before the clock starts; the cold run gets a cache of its own with the host's images
  spawnSync('bash', ['scripts/build-vm-image.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const cache = mkdtempSync('/tmp/virtlab-bench-cache-');
  for (const d of ['images', 'vm-images', 'debs', 'downloads', 'vm-libvirt-caps']) {
    mkdirSync(join(home().cache, d), { recursive: true });
    symlinkSync(join(home().cache, d), join(cache, d));
  }
  try {
    const env = { ...process.env, VIRTLAB_CACHE: cache };
    const cold = await vmRun(env);
    const warmRun = await vmRun(env);
    vm = {
      ...warmRun,
      passed: cold.passed && warmRun.passed,
      cold_e2e_s: cold.e2e_s,
      cold_attempts: cold.attempts,
      machine_up_s: { cold: cold.machine_up_s, warm: warmRun.machine_up_s },
      peak_rss_mb: Math.max(cold.peak_rss_mb, warmRun.peak_rss_mb),
    };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}
if (vm)
  log(
    `vm: kvm-macvtap with kvm-01 as a VM ${vm.e2e_s} s from its snapshot${vm.attempts > 1 ? ` (${vm.attempts} attempts, the last ${vm.last_attempt_s} s)` : ''}, ${vm.cold_e2e_s} s booting it${vm.cold_attempts > 1 ? ` (${vm.cold_attempts} attempts)` : ''} (${vm.passed ? 'passed' : 'FAILED'}); the VM ready in ${vm.machine_up_s.warm} s (booted: ${vm.machine_up_s.cold} s), guests under ${vm.guests}, peak RSS ${vm.peak_rss_mb} MB`,
  );

// 5. host networks: linux-bridge end to end, and how fast a lab whose namespace machines need a kernel feature this
// host lacks (vlan's netns variant, here without 802.1Q) is refused, the whole process included
const bridgeRuns: number[] = [];
for (let i = 0; i < Math.min(runs, 3); i++) {
  const v = virtlab(['run', 'linux-bridge', '--name', 'bench-lbr']);
  if (v.code !== 0) throw new Error(`linux-bridge failed in the benchmark:\n${v.out}`);
  bridgeRuns.push(v.s);
}
const refusals = [1, 2, 3].map(() => virtlab(['run', 'vlan', '--variant', 'netns', '--name', 'bench-vlan']));
const hostNetworks = {
  linux_bridge_e2e_s: r2(median(bridgeRuns)),
  // undefined where this host's kernel has 802.1Q (the variant then runs instead of being refused)
  feature_refusal_s: refusals.every((x) => x.code === 3) ? r2(median(refusals.map((x) => x.s))) : undefined,
};
log(
  `host networks: linux-bridge ${hostNetworks.linux_bridge_e2e_s} s, a lab needing 802.1Q refused in ${hostNetworks.feature_refusal_s ?? '(not refused: the kernel has it)'} s`,
);

// 6. dual stack: kvm-macvtap with IPv6 next to its IPv4 figure (the same lab plus RA, SLAAC and the v6 checks)
const dualRuns: number[] = [];
for (let i = 0; i < Math.min(runs, 3); i++) {
  const v = virtlab(['run', 'kvm-macvtap-dual', '--name', 'bench-dual']);
  if (v.code !== 0) throw new Error(`kvm-macvtap-dual failed in the benchmark:\n${v.out}`);
  dualRuns.push(v.s);
}
const dualStack = { e2e_s: r2(median(dualRuns)), ipv4_e2e_s: r2(median(e2e)) };
log(`dual stack: kvm-macvtap-dual ${dualStack.e2e_s} s, kvm-macvtap (IPv4) ${dualStack.ipv4_e2e_s} s`);

// 7. throughput: virtlab's throughput check against iperf3 run by hand in the same setup (bench/floor.sh iperf),
// interleaved; then one run of throughput-modes, whose figures are the seed's table on this host
const tputV: number[] = [];
const tputF: number[] = [];
// a measurement that failed on either side is counted (with its message), not fatal: the others still stand
const tputFailures: string[] = [];
for (let i = 0; i < Math.min(runs, 3); i++) {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-bench-iperf-'));
  const v = virtlab(['run', 'bench/labs/bench-iperf.yml', '--name', 'bench-iperf', '--report-dir', dir]);
  const value = existsSync(join(dir, 'report.json'))
    ? JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).assertions[0]?.figures?.[0]?.value
    : undefined;
  if (v.code === 0 && value !== undefined) tputV.push(value);
  else
    tputFailures.push(
      `virtlab: ${
        v.out
          .split('\n')
          .filter((l) => /FAIL|cannot|error|unknown/.test(l))
          .join(' ') || v.out.trim().split('\n').slice(-3).join(' ')
      }`,
    );
  const f = spawnSync('bash', ['bench/floor.sh', image, warm, 'iperf'], { encoding: 'utf8' });
  const mbps = Number(f.stdout.trim().split(/\s+/)[2]);
  if (f.status === 0 && Number.isFinite(mbps)) tputF.push(mbps);
  else tputFailures.push(`by hand: ${f.stdout.trim()} ${f.stderr.trim().split('\n').pop()}`);
}
const modesDir = mkdtempSync(join(tmpdir(), 'virtlab-bench-modes-'));
const modesRun = virtlab(['run', 'throughput-modes', '--name', 'bench-modes', '--report-dir', modesDir]);
const modes =
  modesRun.code === 0
    ? Object.fromEntries(
        JSON.parse(readFileSync(join(modesDir, 'report.json'), 'utf8')).assertions.map((a: any) => [
          a.id,
          a.figures[0].value,
        ]),
      )
    : undefined;
const throughput = {
  virtlab_mbps: r2(median(tputV)),
  floor_mbps: r2(median(tputF)),
  ratio: r2(median(tputV) / median(tputF)),
  failures: tputFailures,
  modes_e2e_s: r2(modesRun.s),
  modes,
};
log(
  `throughput: guest to remote-01 ${throughput.virtlab_mbps} Mbit/s with virtlab's check, ${throughput.floor_mbps} Mbit/s by hand; throughput-modes ${throughput.modes_e2e_s} s`,
);

const results = {
  when: new Date().toISOString(),
  runs,
  e2e_s: r2(median(e2e)),
  stages: Object.fromEntries(Object.entries(stageTimes).map(([k, v]) => [k, r2(median(v))])),
  floor_s: r2(median(floor)),
  floor_check_failures: floorCheckFailures,
  ratio: r2(median(e2e) / median(floor)),
  overhead_s: r2(median(overhead)),
  ssh_exec_ms: r2(sshExecMs),
  ssh_connect_ms: r2(sshConnectMs),
  scale,
  scale_by_guests: scaleTable,
  vm,
  host_networks: hostNetworks,
  dual_stack: dualStack,
  throughput,
  host: hostInfo(),
};
writeFileSync('bench/results.json', `${JSON.stringify(results, null, 2)}\n`);

// the figures with their targets (the README's rows), then the details behind them
const details: [string, string][] = [
  ['host_networks.feature_refusal_s (vlan, no 8021q)', String(hostNetworks.feature_refusal_s ?? '-')],
  ['dual_stack.ipv4_e2e_s (kvm-macvtap in the same bench step)', String(dualStack.ipv4_e2e_s)],
  ['throughput.ratio (virtlab / by hand)', String(throughput.ratio)],
  ...Object.entries(modes ?? {}).map(([k, v]) => [`throughput-modes ${k} (Mbit/s)`, String(v)] as [string, string]),
  ...(vm ? ([['vm.peak_rss_mb (the VM and its guest)', String(vm.peak_rss_mb)]] as [string, string][]) : []),
  ['floor: runs whose checks failed', String(floorCheckFailures)],
  ...Object.entries(results.stages).map(([k, v]) => [`stage ${k} (s)`, String(v)] as [string, string]),
];
console.log(
  `virtlab benchmark: ${runs} runs on ${results.host.cpus} CPUs, ${results.host.memory_gib} GiB, kernel ${results.host.kernel}, libvirt ${results.host.libvirt}, QEMU ${results.host.qemu}`,
);
for (const line of benchLines(results)) console.log(line);
for (const [k, v] of details) console.log(`  ${k.padEnd(70)} ${v.padStart(14)}`);
console.log('written: bench/results.json');
writeReadmeTable();
console.log("written: README.md's performance table");
