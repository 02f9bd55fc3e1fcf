// allDone: parallel work that creates things has all ended before the caller (and so teardown) goes on.
import test from 'ava';
import { allDone } from '../../src/host/parallel.ts';

const later = <T>(ms: number, fn: () => T) =>
  new Promise<T>((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(fn());
      } catch (e) {
        reject(e);
      }
    }, ms),
  );

test('a failure is thrown only after the slower jobs have ended (they would otherwise start things behind teardown)', async (t) => {
  const started: string[] = [];
  const p = allDone([
    later(5, () => {
      throw new Error('remote-01 interrupted');
    }),
    later(60, () => {
      started.push('init of kvm-01');
    }),
  ]);
  await t.throwsAsync(p, { message: 'remote-01 interrupted' });
  t.deepEqual(started, ['init of kvm-01']);
});

test('the failure that came first is the one thrown, whatever the order of the jobs', async (t) => {
  await t.throwsAsync(
    allDone([
      later(40, () => {
        throw new Error('second');
      }),
      later(5, () => {
        throw new Error('first');
      }),
    ]),
    { message: 'first' },
  );
});

test('results in the order of the jobs when all succeed', async (t) => {
  t.deepEqual(await allDone([later(30, () => 'a'), later(5, () => 'b')]), ['a', 'b']);
});
