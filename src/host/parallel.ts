// Parallel work that creates things (namespaces, processes, files on machines) must all have ended before teardown
// starts: Promise.all rejects at the first failure (an interrupt, a machine that did not come up) while the other
// jobs go on, and one of them could then start a process after teardown had looked for it.

/** Like Promise.all, but waits for every job to end; then throws the failure that came first. */
export async function allDone<T>(jobs: Promise<T>[]): Promise<T[]> {
  let first: { error: unknown } | undefined;
  const results = await Promise.all(
    jobs.map((j) =>
      j.catch((error: unknown) => {
        first ??= { error };
        return undefined as T;
      }),
    ),
  );
  if (first) throw first.error;
  return results;
}
