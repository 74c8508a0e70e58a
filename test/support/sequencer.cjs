// Runs the longest suites first, so the run does not end waiting on one of them. Jest orders by the
// durations it cached last time; a fresh clone has none and would order by file size, which puts
// the short file of the longest suite (crash recovery) last. These go first whatever the cache says.
const Sequencer = require('@jest/test-sequencer').default;

const LONGEST = [
  'test/functions/crash-recovery.int.test.ts',
  'test/functions/fuzz.int.test.ts',
  'test/infra/local/keys.int.test.ts',
  'test/functions/recovery.int.test.ts',
  'test/functions/delivery-faults.int.test.ts',
  'test/infra/local/main.int.test.ts',
];

class LongestFirst extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const index = LONGEST.findIndex((suffix) => test.path.endsWith(suffix));
      return index === -1 ? LONGEST.length : index;
    };
    const sorted = super.sort(tests);
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongestFirst;
