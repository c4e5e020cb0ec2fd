import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oneReadSuffices } from '../../../src/core/mounts/mountinfo-reads.js';

describe('oneReadSuffices', () => {
  it('trusts one read from Linux 5.8 on, where the kernel keeps the read’s place', () => {
    for (const release of ['5.8.0', '5.10.0-35-amd64', '6.1.0-41-cloud-amd64', '6.18.2', '10.0.1'])
      assert.equal(oneReadSuffices(release), true, release);
  });

  it('asks for two reads that agree before 5.8, and where the release does not say', () => {
    for (const release of ['5.7.19', '4.18.0-553.el8_10.x86_64', '3.10.0-1160.el7.x86_64', '', 'Linux', 'x.y'])
      assert.equal(oneReadSuffices(release), false, release);
  });
});
