// The switch agent of a mac-filtering network, on real namespaces, veths and ebtables: a port follows its machine
// NIC's PROMISC flag, also when the flag changes in the moment the agent is starting (a busy host, a promisc step right
// after `up`): CI once lost such a change for good, and the guest behind the port never got its DHCP lease.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { eventually } from '../helpers/host.ts';

const AGENT = join(import.meta.dirname, '..', '..', 'src', 'providers', 'netns', 'switch-agent.sh');
// by its path: node_modules/.bin, on an npm script's PATH, has an `nft` of its own (@vercel/nft, a file tracer)
const NFT = '/usr/sbin/nft';
const sh = (argv: string[], input?: string) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test.serial(
  'a promisc flag set while the agent subscribes to link events is followed, and so is the next one',
  async (t) => {
    const sw = `vltest-sw-${process.pid}`;
    const m = `vltest-m-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'vltest-switch-'));
    let agent: number | undefined;
    t.teardown(() => {
      if (agent) process.kill(-agent, 'SIGKILL');
      spawnSync('ip', ['netns', 'del', sw]);
      spawnSync('ip', ['netns', 'del', m]);
      rmSync(dir, { recursive: true, force: true });
    });
    sh(['ip', 'netns', 'add', sw]);
    sh(['ip', 'netns', 'add', m]);
    sh(['ip', '-n', m, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'p0', 'netns', sw]);
    sh(
      ['ip', 'netns', 'exec', sw, 'ebtables-restore'],
      '*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n:vl-p0 DROP\nCOMMIT\n',
    );
    // an `ip` whose monitor subscribes half a second late: a busy host, made certain
    const real = sh(['sh', '-c', 'command -v ip']).trim();
    writeFileSync(join(dir, 'ip'), `#!/bin/sh\ncase " $* " in *" monitor "*) sleep 0.5 ;; esac\nexec ${real} "$@"\n`);
    chmodSync(join(dir, 'ip'), 0o755);
    const log = join(dir, 'agent.log');
    const child = spawn('ip', ['netns', 'exec', sw, 'bash', AGENT, m, 'eth1', 'vl-p0'], {
      detached: true,
      stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    agent = child.pid;
    // the chain as nf_tables holds it: ebtables-nft keeps a DROP policy as a last `drop` rule (`ebtables -L` misreports
    // the policy of a chain made by ebtables-restore as RETURN)
    const policy = () =>
      /\bdrop\s*}\s*}\s*$/.test(sh(['ip', 'netns', 'exec', sw, NFT, 'list', 'chain', 'bridge', 'filter', 'vl-p0']))
        ? 'DROP'
        : 'RETURN';
    // the flag changes a quarter of a second after the agent says ready: after its first read, before its monitor listens
    const ready = Date.now();
    while (!readFileSync(log, 'utf8').includes('switch agent ready') && Date.now() - ready < 5000) await sleep(10);
    await sleep(250);
    t.is(
      policy(),
      'DROP',
      `a NIC that is not promiscuous: its port drops frames for other MACs: ${readFileSync(log, 'utf8')}`,
    );
    sh(['ip', '-n', m, 'link', 'set', 'eth1', 'promisc', 'on']);
    await eventually(() => policy() === 'RETURN', 4000);
    t.is(policy(), 'RETURN', `promisc on is followed: ${readFileSync(log, 'utf8')}`);
    sh(['ip', '-n', m, 'link', 'set', 'eth1', 'promisc', 'off']);
    await eventually(() => policy() === 'DROP', 4000);
    t.is(policy(), 'DROP', `promisc off is followed: ${readFileSync(log, 'utf8')}`);
  },
);
