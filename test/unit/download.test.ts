// Downloads on the control host (src/host/download.ts) against local HTTP and HTTPS servers: redirects, errors that
// say what happened, a deadline, and TLS that trusts the CA file handed over by bin/virtlab (VIRTLAB_EXTRA_CA_CERTS).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type RequestListener, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { download } from '../../src/host/download.ts';

const listen = (server: Server, scheme: string): Promise<string> =>
  new Promise((r) => server.listen(0, '127.0.0.1', () => r(`${scheme}://127.0.0.1:${(server.address() as any).port}`)));

const routes: RequestListener = (req, res) => {
  if (req.url === '/file') res.end('the body\n');
  else if (req.url === '/moved') res.writeHead(302, { location: '/file' }).end();
  else if (req.url === '/loop') res.writeHead(301, { location: '/loop' }).end();
  else if (req.url === '/silent')
    return; // never answers
  else res.writeHead(404).end();
};

test('a body is returned after redirects; a status, a loop and silence are errors with the URL', async (t) => {
  const server = createHttp(routes);
  const url = await listen(server, 'http');
  try {
    t.is((await download(`${url}/file`, 5000)).toString(), 'the body\n');
    t.is((await download(`${url}/moved`, 5000)).toString(), 'the body\n');
    const missing = await t.throwsAsync(download(`${url}/none`, 5000));
    t.is(missing!.message, `cannot download ${url}/none: HTTP 404`);
    const loop = await t.throwsAsync(download(`${url}/loop`, 5000));
    t.is(loop!.message, `cannot download ${url}/loop: more than 10 redirects`);
    const silent = await t.throwsAsync(download(`${url}/silent`, 300));
    t.is(silent!.message, `cannot download ${url}/silent: no answer within 0.3 s`);
    const other = await t.throwsAsync(download('ftp://127.0.0.1/x', 300));
    t.regex(other!.message, /only http and https URLs are supported/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('https trusts the CA file given in VIRTLAB_EXTRA_CA_CERTS, and only then', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-tls-'));
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  };
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=virtlab test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  ssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'srv.pem',
  );
  const server = createHttps(
    { key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) },
    routes,
  );
  const url = await listen(server as unknown as Server, 'https');
  const before = process.env.VIRTLAB_EXTRA_CA_CERTS;
  try {
    delete process.env.VIRTLAB_EXTRA_CA_CERTS;
    const untrusted = await t.throwsAsync(download(`${url}/file`, 5000));
    t.regex(untrusted!.message, /^cannot download https:\/\/127\.0\.0\.1:\d+\/file: .*(certificate|issuer)/);
    process.env.VIRTLAB_EXTRA_CA_CERTS = join(dir, 'ca.pem');
    t.is((await download(`${url}/moved`, 5000)).toString(), 'the body\n');
    process.env.VIRTLAB_EXTRA_CA_CERTS = join(dir, 'missing.pem');
    const unreadable = await t.throwsAsync(download(`${url}/file`, 5000));
    t.regex(unreadable!.message, /cannot read the CA file .*missing\.pem \(NODE_EXTRA_CA_CERTS\)/);
  } finally {
    if (before === undefined) delete process.env.VIRTLAB_EXTRA_CA_CERTS;
    else process.env.VIRTLAB_EXTRA_CA_CERTS = before;
    server.closeAllConnections();
    server.close();
  }
});
