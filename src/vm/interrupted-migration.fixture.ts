/**
 * An agent that dies mid-migration: starts migrating guest g1 of run argv[2] from h1 to h2 with a
 * slow stream, prints "migrating" once QEMU streams, and waits to be killed (qemu.system.test.ts).
 * The scenario is the test's, passed as YAML in argv[3]. With argv[4] = "claim" it dies at the
 * switch-over instead: a cluster-mode claim that never resolves holds QEMU at pre-switchover (the
 * source paused, the destination without device state), and "migrating" is printed there.
 */
import { parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { fleetRun, migrateGuest } from './fleet.ts';

const [prefix, yaml] = [process.argv[2]!, process.argv[3]!];
const model = buildModel(parseScenario(yaml, 'test.yaml'));
const atClaim = process.argv[4] === 'claim';
await migrateGuest(fleetRun(model, prefix), 'g1', 'h1', 'h2', atClaim
  ? {
      claim: () => {
        console.log('migrating');
        return new Promise<void>(() => undefined);
      },
    }
  : {
      maxBandwidthBytes: 2 * 1024 * 1024,
      onDestinationReady: () => void setTimeout(() => console.log('migrating'), 300),
    });
console.log('finished (too early for the test)');
