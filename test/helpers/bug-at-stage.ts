// A fault injector for tests (loaded with node --import): when the run's JSON event stream announces the stage
// named by VIRTLAB_TEST_BUG_AT, an exception nobody catches is thrown, as a bug in virtlab would.
const stage = process.env.VIRTLAB_TEST_BUG_AT;
if (stage) {
  const write = process.stdout.write.bind(process.stdout);
  let thrown = false;
  process.stdout.write = ((chunk: any, ...rest: any[]) => {
    if (!thrown && String(chunk).includes(`"type":"stage-start","stage":"${stage}"`)) {
      thrown = true;
      setTimeout(() => {
        throw new Error(`injected bug during ${stage}`);
      }, 300);
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
}
