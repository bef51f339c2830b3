import type { Command } from 'commander';
import { ScoreError, isScoreError } from '../../errors/errors.ts';
import { libvirtDriver } from '../../agent/drivers/libvirt.ts';
import { emulatedDriver, probe } from '../../agent/drivers/emulated.ts';
import { qemuDriver } from '../../agent/drivers/qemu.ts';
import { fleetRun, reconcileHypervisor } from '../../vm/fleet.ts';
import { libvirtFleetDriver } from '../../vm/libvirt-fleet.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import type { MigrationDriver } from '../../agent/drivers/driver.ts';
import { startAgent } from '../../system/stack.ts';
import { keepRegistered } from '../../agent/keepalive.ts';
import { parseNumberOption } from './simulate.ts';

/**
 * `score agent`: one process per hypervisor. It registers with the controller's API and serves
 * the controller's calls (compute C_A(u), decide and migrate) until stopped.
 */
export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a hypervisor agent: registers with the controller and decides/migrates its VMs')
    .requiredOption('--controller <url>', 'the controller API, e.g. http://127.0.0.1:8080')
    .requiredOption('--hypervisor <name>', "this hypervisor's name as the controller knows it (its switch name)")
    .option('--token <token>', "this hypervisor's credential from `score credentials issue` (or env SCORE_AGENT_TOKEN)")
    .option('--driver <libvirt|emulated|qemu>', 'how to migrate (qemu: real QEMU guests of `score emulate --vms qemu`, through QMP)', 'libvirt')
    .option('--probe-from <vm>', 'with --driver qemu: a namespace VM that pings the moving guest every 10 ms')
    .option('--emulation-prefix <prefix>', 'with --driver emulated, qemu or libvirt: the run prefix `score emulate` printed (libvirt: its per-hypervisor libvirtd hosts)')
    .option('--scenario <file|name>', "with --emulation-prefix: the emulated data centre's scenario")
    .option('--listen <host:port>', "this agent's own API", '127.0.0.1:0')
    .option('--libvirt-uri <template>', 'destination URI, {host} is the target hypervisor', 'qemu+ssh://{host}/system')
    .option('--check-ms <ms>', 'how often a running agent re-registers to check the controller is there (back-off from 1 s to 30 s while it is not)', '10000')
    .option('--stop-on-stdin-eof', 'stop (as on SIGTERM) when stdin reaches its end: a parent that spawned the agent with a pipe ends it by dying, whatever kills it')
    .action(async (opts: { controller: string; hypervisor: string; token?: string; driver: string; listen: string; libvirtUri: string; emulationPrefix?: string; scenario?: string; checkMs: string; probeFrom?: string; stopOnStdinEof?: boolean }) => {
      // listened to from the start: the parent may die while this agent still starts
      let orphaned = false;
      let onOrphaned = (): void => undefined;
      if (opts.stopOnStdinEof === true) {
        const gone = (): void => {
          orphaned = true;
          onOrphaned();
        };
        process.stdin.once('end', gone);
        process.stdin.once('error', gone);
        process.stdin.resume();
        // heard while the agent runs, but not what keeps it running (a failed start still exits)
        (process.stdin as { unref?: () => void }).unref?.();
      }
      const token = opts.token ?? process.env.SCORE_AGENT_TOKEN;
      if (!token) throw new ScoreError('CLI_USAGE', '--token or SCORE_AGENT_TOKEN is required');
      const m = /^(.+):(\d+)$/.exec(opts.listen);
      if (m === null) throw new ScoreError('CLI_USAGE', `--listen: expected host:port, got "${opts.listen}"`);
      let driver: MigrationDriver;
      if (opts.driver === 'libvirt' && opts.emulationPrefix !== undefined) {
        // the libvirt hosts of an emulated data centre (src/vm/libvirt-fleet.ts), found by the run's prefix
        if (!opts.scenario) throw new ScoreError('CLI_USAGE', '--driver libvirt with --emulation-prefix needs --scenario');
        const { model } = loadScenarioFile(opts.scenario);
        driver = libvirtFleetDriver(fleetRun(model, opts.emulationPrefix));
      } else if (opts.driver === 'libvirt') {
        driver = libvirtDriver({ uriFor: (h) => opts.libvirtUri.replace('{host}', h) });
      } else if (opts.driver === 'emulated') {
        if (!opts.emulationPrefix || !opts.scenario) throw new ScoreError('CLI_USAGE', '--driver emulated needs --emulation-prefix and --scenario');
        const { model } = loadScenarioFile(opts.scenario);
        driver = emulatedDriver({ model, prefix: opts.emulationPrefix });
      } else if (opts.driver === 'qemu') {
        if (!opts.emulationPrefix || !opts.scenario) throw new ScoreError('CLI_USAGE', '--driver qemu needs --emulation-prefix and --scenario');
        const { model } = loadScenarioFile(opts.scenario);
        const run = fleetRun(model, opts.emulationPrefix);
        const from = opts.probeFrom;
        if (from !== undefined && !model.vmInfo.has(from)) throw new ScoreError('CLI_USAGE', `--probe-from: no VM "${from}" in the scenario`);
        const ns = from === undefined ? undefined : run.plan.vms.find((v) => v.name === from)?.namespace;
        driver = qemuDriver({ run, ...(ns !== undefined ? { probe: (vm: string) => probe(ns, model.vmInfo.get(vm)!.ip) } : {}) });
        // a previous agent process may have died mid-migration (a guest left paused at
        // pre-switchover): QEMU says where each guest runs before this one takes requests
        const settled = await reconcileHypervisor(run, opts.hypervisor);
        if (settled.length > 0) console.log(`agent for ${opts.hypervisor}: ${settled.length} QEMU guest(s) checked (${settled.map((g) => `${g.spec.vm} on ${g.hypervisor}`).join(', ')})`);
      } else {
        throw new ScoreError('CLI_USAGE', `--driver: expected libvirt, emulated or qemu, got "${opts.driver}"`);
      }
      // An unreachable controller at start is a failure: startAgent closes its port and throws
      // CONTROLLER_UNREACHABLE, and the command exits 1.
      if (orphaned) return;
      const agent = await startAgent({ hypervisor: opts.hypervisor, apiUrl: opts.controller, token, driver, host: m[1]!, port: Number(m[2]) });
      console.log(`agent for ${opts.hypervisor} (${driver.name} driver) listening on ${agent.url}, registered with ${opts.controller}`);
      // Once running, losing the controller is a state to ride out, not a failure: retry with back-off.
      const stamp = (): string => new Date().toISOString().slice(11, 23);
      let revoked: string | undefined;
      let wake = (): void => undefined;
      const keep = keepRegistered({
        register: () => agent.register(),
        log: (l) => console.error(`${stamp()} agent ${opts.hypervisor}: ${l}`),
        intervalMs: parseNumberOption('--check-ms', opts.checkMs, 100) ?? 10_000,
        // revoked: no retry brings it back; the operator issues a new credential and restarts us
        permanent: (e) => isScoreError(e, 'CREDENTIAL_REVOKED'),
        onPermanent: (e) => {
          revoked = e instanceof Error ? e.message : String(e);
          wake();
        },
      });
      let onSignal = (): void => undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        onSignal = resolve;
        onOrphaned = resolve;
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        if (orphaned) resolve();
      });
      // woken by a revocation, the signal listeners are still there: Ctrl-C must work again
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (orphaned) console.error(`${stamp()} agent ${opts.hypervisor}: stdin closed (the process that started this agent is gone): stopping`);
      // an open stdin pipe would keep this process alive
      if (opts.stopOnStdinEof === true) process.stdin.destroy();
      keep.stop();
      await agent.stop();
      if (revoked !== undefined) {
        throw new ScoreError('CREDENTIAL_REVOKED', `agent ${opts.hypervisor}: the controller refuses this agent's credential, it was revoked (${revoked}); issue a new one (score credentials issue ${opts.hypervisor}) and start the agent with it`, { hypervisor: opts.hypervisor });
      }
    });
}
