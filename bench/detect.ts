// Benchmark: parse + classify + plan + render of a real 10,000-mount mountinfo, in-process.
import { classifyMounts } from '../src/core/mounts/classify.js';
import { parseMountinfo } from '../src/core/mounts/mountinfo.js';
import { planExternalMounts } from '../src/core/mounts/plan.js';
import { planCriuOptions } from '../src/core/mounts/render.js';
import { fixture } from '../test/helpers/fixtures.js';
import { measure, type Measurement } from './measure.js';

export async function benchDetect(): Promise<Measurement & { name: string }> {
  const text = fixture('mountinfo/many.mountinfo.gz');
  const lines = text.trim().split('\n').length;
  const result = await measure(() => {
    const plan = planExternalMounts(classifyMounts(parseMountinfo(text)));
    const options = planCriuOptions(plan, { major: 4, minor: 1, patch: 1, text: '4.1.1' });
    if (options.dump.length !== 5000) throw new Error(`planned ${options.dump.length} external mounts, expected 5000`);
  });
  return { name: `detect: parse + classify + plan + render ${lines.toLocaleString('en')} mountinfo lines`, ...result };
}
