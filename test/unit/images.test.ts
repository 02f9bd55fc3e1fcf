// The official-CirrOS download path, against a local HTTP server serving an image and its checksum file.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cirrosLogin, downloadCirros } from '../../src/host/images.ts';

const image = Buffer.from('not really a qcow2, but bytes all the same\n'.repeat(1000));
const file = 'cirros-0.3.2-x86_64-disk.img';

function serve(files: Record<string, Buffer | string>): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const body = files[req.url ?? ''];
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200).end(body);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as any).port}` }));
  });
}

test('a good image is downloaded and verified against SHA256SUMS', async (t) => {
  const sum = createHash('sha256').update(image).digest('hex');
  const { server, url } = await serve({
    '/0.3.2/SHA256SUMS': `${sum}  ${file}\n0000  other.img\n`,
    [`/0.3.2/${file}`]: image,
  });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-img-'));
    const path = await downloadCirros('0.3.2', dir, url);
    t.is(path, join(dir, file));
    t.deepEqual(readFileSync(path), image);
  } finally {
    server.close();
  }
});

test('MD5SUMS is used when the release has no SHA256SUMS (0.3.x)', async (t) => {
  const sum = createHash('md5').update(image).digest('hex');
  const { server, url } = await serve({ '/0.3.2/MD5SUMS': `${sum}  ${file}\n`, [`/0.3.2/${file}`]: image });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-img-'));
    t.deepEqual(readFileSync(await downloadCirros('0.3.2', dir, url)), image);
  } finally {
    server.close();
  }
});

test('a corrupted download is refused and not kept', async (t) => {
  const sum = createHash('sha256').update(image).digest('hex');
  const bad = Buffer.from(image);
  bad[10] = 0;
  const { server, url } = await serve({ '/0.3.2/SHA256SUMS': `${sum}  ${file}\n`, [`/0.3.2/${file}`]: bad });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-img-'));
    const e = await t.throwsAsync(downloadCirros('0.3.2', dir, url));
    t.regex(e!.message, /corrupted: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    t.false(existsSync(join(dir, file)));
    t.false(existsSync(join(dir, `${file}.part`)));
  } finally {
    server.close();
  }
});

test('offline (nothing listening) fails quickly with the URL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-img-'));
  const e = await t.throwsAsync(downloadCirros('0.4.0', dir, 'http://127.0.0.1:9', 2000));
  t.truthy(e);
});

test('CirrOS logins by version', (t) => {
  t.deepEqual(cirrosLogin('0.3.2'), { user: 'cirros', password: 'cubswin:)' });
  t.deepEqual(cirrosLogin('0.6.2'), { user: 'cirros', password: 'gocubsgo' });
});
