// Where did the packet die: a failed ping is run again with tcpdump on every port of its path. eth1 of kvm-01 leaves
// promiscuous mode once the guest holds its lease, so remote-01's echo requests cross remote-01's own switch port
// and are dropped before kvm-01's: the trace must say so, keep the pcaps and mark the LAN on the topology.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';

test.serial('a failed ping is traced: last seen on the LAN port of remote-01, never on the port of kvm-01', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-trace-'));
  const r = virtlab(['run', 'test/fixtures/labs/promisc-lost.yml', '--name', 'e2e-trace', '--report-dir', dir]);
  t.is(r.code, 1, r.out);
  t.regex(
    r.stdout,
    /ping-remote: the echo requests were last seen on lan port of remote-01, never on lan port of kvm-01 \(pcaps in /,
  );
  const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const ping = rep.assertions.find((a: any) => a.id === 'ping-remote');
  t.is(rep.assertions.find((a: any) => a.id === 'lease').status, 'pass');
  const hops = ping.trace.hops.map((h: any) => [h.label, h.requests > 0]);
  t.deepEqual(hops.slice(0, 4), [
    ['remote-01 eth1', true],
    ['lan port of remote-01', true],
    ['lan port of kvm-01', false],
    ['kvm-01 eth1', false],
  ]);
  t.regex(hops[4][0], /^cirros's macvtap\d+ on kvm-01$/);
  t.false(hops[4][1]);
  for (const h of ping.trace.hops) t.true(existsSync(h.pcap), `${h.label}: its pcap is in the evidence`);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.regex(html, /<g class="node node-underlay" data-id="net:lan">.*?<g class="last-seen">/s);
  t.regex(html, /id="trace-ping-remote"/);
  t.deepEqual(leftovers('e2e-trace', rep.runId), []);
});
