import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Integration files share one cache directory and run one after another, in the order the
 * pipeline's users meet them: the matrix build fills the artifact cache that the release
 * rehearsal compares against and the pull tests install from. Unit tests come first.
 */
const ORDER = ['test/unit/', 'bad-input', 'matrix-build', 'source-tree', 'incremental', 'release-rehearsal', 'pull', 'secure-boot', 'qemu-image', 'builder-lock', 'fault-drills', 'disk-full'];

class PipelineOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = ORDER.findIndex((o) => f.moduleId.includes(o));
      return i === -1 ? ORDER.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests build real firmware in a real engine: minutes, not seconds.
    testTimeout: 10_000,
    hookTimeout: 10_000,
    fileParallelism: false,
    sequence: { sequencer: PipelineOrder },
  },
});
