// The official-CirrOS download path, against a local HTTP server serving an image and its checksum file.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cirrosLogin, downloadCirros, imageInputsStamp, localGuest } from '../../src/host/images.ts';

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

test('the guest image script is not asked again while nothing it looks at changed', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-img-'));
  const home = {
    root,
    state: join(root, 'state'),
    runs: join(root, 'runs'),
    cache: join(root, 'cache'),
    images: join(root, 'cache', 'images'),
  };
  mkdirSync(home.images, { recursive: true });
  mkdirSync(join(home.cache, 'debs'));
  const image = join(home.images, 'cirros.qcow2');
  writeFileSync(image, 'an image');
  writeFileSync(join(home.images, 'cirros.inputs'), 'script=1 kernel=k');
  // as the script leaves it after finding the image up to date
  writeFileSync(join(home.images, 'cirros.checked'), imageInputsStamp(home, image));
  const spans: number[] = [];
  const clock = { span: (a: number, b: number) => spans.push(b - a) };
  t.is(await localGuest(home, () => {}, clock), image);
  t.deepEqual(spans, [], 'no process was started');
  const before = imageInputsStamp(home, image);
  const changes: [string, () => void][] = [
    ['the image', () => appendFileSync(image, '!')],
    ["the script's inputs", () => writeFileSync(join(home.images, 'cirros.inputs'), 'script=2 kernel=k')],
    ['a kernel package in the cache', () => writeFileSync(join(home.cache, 'debs', 'linux-image-x.deb'), 'deb')],
  ];
  let last = before;
  for (const [what, change] of changes) {
    change();
    const now = imageInputsStamp(home, image);
    t.not(now, last, `a change of ${what} is seen`);
    last = now;
  }
  process.env.GUEST_KERNEL_PKG = 'linux-image-other';
  try {
    t.not(imageInputsStamp(home, image), last, 'another kernel package chosen by the environment is seen');
  } finally {
    delete process.env.GUEST_KERNEL_PKG;
  }
});
