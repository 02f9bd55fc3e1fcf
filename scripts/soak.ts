// Soak: run a lab N times in a row and watch the host for growth in leftovers (not part of npm test).
// usage: npm run soak -- [--runs 20] [--lab kvm-macvtap]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const runs = Number(arg('runs', '20'));
const lab = arg('lab', 'kvm-macvtap');

function snapshot() {
  const count = (d: string, re?: RegExp) =>
    existsSync(d) ? readdirSync(d).filter((f) => !re || re.test(f)).length : 0;
  return {
    netns: count('/run/netns', /^vl-/),
    links: count('/sys/class/net', /^vl/),
    taps: count('/dev', /^tap\d+$/),
    // user-space processes only: kernel threads (empty cmdline) come and go on their own
    processes: readdirSync('/proc')
      .filter((f) => /^\d+$/.test(f))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`).length > 0;
        } catch {
          return false;
        }
      }).length,
    mounts: readFileSync('/proc/self/mounts', 'utf8').split('\n').length,
    fileHandles: Number(readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/)[0]),
    stateFiles: count('/var/lib/virtlab/state', /\.json$/),
  };
}

const before = snapshot();
const times: number[] = [];
let failures = 0;
for (let i = 1; i <= runs; i++) {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'run', lab, '--name', 'soak', '--no-color'],
    { encoding: 'utf8' },
  );
  times.push((Date.now() - t0) / 1000);
  if (r.status !== 0) failures++;
  const s = snapshot();
  console.log(
    `run ${String(i).padStart(2)}: exit ${r.status}, ${times[i - 1]!.toFixed(1)} s; netns ${s.netns}, vl links ${s.links}, /dev/tap ${s.taps}, processes ${s.processes}, mounts ${s.mounts}, file handles ${s.fileHandles}`,
  );
}
const after = snapshot();
const growth = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before as any)[k]]));
const sorted = [...times].sort((a, b) => a - b);
console.log(
  `\n${runs} runs of ${lab}: ${runs - failures} passed, ${failures} failed; median ${sorted[Math.floor(runs / 2)]!.toFixed(1)} s, max ${sorted[runs - 1]!.toFixed(1)} s`,
);
console.log(`growth over the soak: ${JSON.stringify(growth)}`);
process.exitCode = failures || growth.netns || growth.links || growth.taps || growth.stateFiles ? 1 : 0;
