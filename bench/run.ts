/**
 * `pnpm bench [name…]`: run the named benchmarks (default: all registered). A registry, so later
 * benches are one entry each. BENCH_QUICK=1 selects a fast smoke mode (tiny iteration counts).
 * BENCH_SUITES=ed25519,p256 limits the FROST bench to some suites.
 */
import { mainCeremony } from './ceremony/index.js';
import { mainFrost } from './frost/index.js';
import { mainManifest } from './manifest.js';
import { mainVerify } from './verify.js';

interface BenchEntry {
  readonly description: string;
  readonly run: (o: { readonly quick: boolean }) => void | Promise<void>;
}

const suitesEnv = process.env.BENCH_SUITES?.split(',').filter((s) => s.length > 0);

const REGISTRY: Readonly<Record<string, BenchEntry>> = {
  frost: {
    description:
      'FROST (RFC 9591): keygen, DKG, signing rounds, aggregate, verify vs native Ed25519',
    run: ({ quick }) => mainFrost(suitesEnv ? { quick, suites: suitesEnv } : { quick }),
  },
  ceremony: {
    description:
      'signing ceremonies over loopback WebSocket (coordinator child + in-process agents): latency vs crypto floor, throughput, event-loop delay, memory per open ceremony',
    run: ({ quick }) => mainCeremony({ quick }),
  },
  manifest: {
    description:
      'batch manifests (RFC 9162 Merkle root over 100k / 1M artifacts) vs hashing the leaf encodings; proof files and verifyBatchMember per artifact',
    run: ({ quick }) => mainManifest({ quick }),
  },
  verify: {
    description:
      'conclave verify (every format, 1 MiB artifact) vs native Ed25519 verify + the artifact hash the format needs',
    run: ({ quick }) => mainVerify({ quick }),
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h') || args.includes('--list')) {
    process.stdout.write('usage: pnpm bench [name…]   (BENCH_QUICK=1 for a fast smoke run)\n');
    for (const [name, e] of Object.entries(REGISTRY))
      process.stdout.write(`  ${name.padEnd(8)} ${e.description}\n`);
    return;
  }
  const names = args.length > 0 ? args : Object.keys(REGISTRY);
  const unknown = names.filter((n) => !(n in REGISTRY));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown bench: ${unknown.join(', ')} (known: ${Object.keys(REGISTRY).join(', ')})\n`,
    );
    process.exitCode = 2;
    return;
  }
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
  for (const name of names) {
    const entry = REGISTRY[name];
    if (entry === undefined) continue;
    process.stderr.write(`[bench] ${name}${quick ? ' (BENCH_QUICK)' : ''}\n`);
    await entry.run({ quick });
  }
}

await main();
