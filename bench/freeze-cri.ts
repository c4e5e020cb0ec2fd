// Benchmark: the freeze under containerd's CRI (issue 26): CheckpointContainer, as a kubelet asks for it,
// of a pod under the `extmount` handler and of the same pod under `runc`, turns taken, on node a of the
// CRI bed (test/helpers/cri-bed.ts). The CRI checkpoints through containerd's client as dockerd does
// (task.Checkpoint: pause, the runtime's checkpoint, a deferred resume), so the freeze is measured as in
// bench/freeze.ts: the bed runs the tracers as the handlers' BinaryName, and the wrapper's runc (its
// config's "runc") is a tracer too. Needs containerd ≥ 2.1 (the sid stack): elsewhere its row says why
// it did not run.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CriBed, TEST_IMAGE } from '../test/helpers/cri-bed.js';
import { sleep } from '../test/helpers/dockerd.js';
import { hostSandbox, missing, WRAPPER } from '../test/helpers/e2e.js';
import { runPod } from '../test/helpers/kubelet-standin.js';
import { FreezeSamples, HOLD_16_MIB, writeTracers, type Side } from './freeze.js';
import type { BenchRow } from './run.js';

const HANDLER: Record<Side, string> = { ours: 'extmount', runc: 'runc' };

function pod(side: Side, data: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `freeze-${side}`, namespace: 'default' },
    spec: {
      nodeName: 'a',
      runtimeClassName: HANDLER[side],
      volumes: [{ name: 'data', hostPath: { path: data, type: 'Directory' } }],
      containers: [
        {
          name: 'hold',
          image: TEST_IMAGE,
          command: ['/bin/sh', '-c', HOLD_16_MIB],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
    },
  });
}

export async function benchFreezeCri(options: { runs?: number } = {}): Promise<BenchRow[]> {
  // 12 a side: runc's own freeze moves by tens of ms between checkpoints, and the goal is 5 %.
  const runs = options.runs ?? 12;
  const lacking = await missing(['root', 'criu', 'cri']);
  if (lacking) {
    const how = 'EXTMOUNT_STACK_BENCH=freeze-cri EXTMOUNT_STACKS=sid npm run test:stacks';
    process.stderr.write(`freeze-cri: NOT RUN: ${lacking}. Run it in the sid stack: ${how}\n`);
    // The reason goes to stderr: the row stays as narrow as the table's others.
    const row = 'CRI: the freeze — NOT RUN here (stderr says why; EXTMOUNT_STACK_BENCH=freeze-cri in sid)';
    return [{ case: row, ms: NaN, goal: '≤ 1.05×', runs: 0 }];
  }
  const box = await hostSandbox('extmount-freeze-cri-');
  let bed: CriBed | undefined;
  try {
    const tracers = await writeTracers(box.dir, WRAPPER);
    bed = await CriBed.start({
      binaryNames: { extmount: tracers.ours, runc: tracers.runc },
      extmountConfig: { runc: tracers.real },
    });
    const node = bed.a;
    const data = join(node.host, 'srv/data');
    await mkdir(data, { recursive: true });
    const sides: Side[] = ['ours', 'runc'];
    const ids = {} as Record<Side, string>;
    for (const side of sides) ids[side] = (await runPod(node, pod(side, data))).containers.hold!;
    await sleep(1500);
    const samples = new FreezeSamples();
    for (let i = 0; i < 1 + runs; i++) {
      for (const side of sides) {
        await writeFile(tracers.log, '');
        const archive = join(bed.dir, `${side}-${i}.tar`);
        await node.cri.checkpointContainer(ids[side], archive);
        await rm(archive, { force: true });
        if (i > 0) await samples.add(tracers.log, side);
      }
    }
    const { runtime_version } = await node.cri.version();
    return samples.rows(`CRI (containerd ${runtime_version})`, runs);
  } finally {
    // The bed's stop removes the pods.
    await bed?.stop();
    await box.cleanup();
  }
}
