import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import { libvirtDriver } from '../../agent/drivers/libvirt.ts';
import { emulatedDriver } from '../../agent/drivers/emulated.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import type { MigrationDriver } from '../../agent/drivers/driver.ts';
import { startAgent } from '../../system/stack.ts';

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
    .option('--driver <libvirt|emulated>', 'how to migrate', 'libvirt')
    .option('--emulation-prefix <prefix>', 'with --driver emulated: the run prefix `score emulate` printed')
    .option('--scenario <file|name>', "with --driver emulated: the emulated data centre's scenario")
    .option('--listen <host:port>', "this agent's own API", '127.0.0.1:0')
    .option('--libvirt-uri <template>', 'destination URI, {host} is the target hypervisor', 'qemu+ssh://{host}/system')
    .action(async (opts: { controller: string; hypervisor: string; token?: string; driver: string; listen: string; libvirtUri: string; emulationPrefix?: string; scenario?: string }) => {
      const token = opts.token ?? process.env.SCORE_AGENT_TOKEN;
      if (!token) throw new ScoreError('CLI_USAGE', '--token or SCORE_AGENT_TOKEN is required');
      const m = /^(.+):(\d+)$/.exec(opts.listen);
      if (m === null) throw new ScoreError('CLI_USAGE', `--listen: expected host:port, got "${opts.listen}"`);
      let driver: MigrationDriver;
      if (opts.driver === 'libvirt') {
        driver = libvirtDriver({ uriFor: (h) => opts.libvirtUri.replace('{host}', h) });
      } else if (opts.driver === 'emulated') {
        if (!opts.emulationPrefix || !opts.scenario) throw new ScoreError('CLI_USAGE', '--driver emulated needs --emulation-prefix and --scenario');
        const { model } = loadScenarioFile(opts.scenario);
        driver = emulatedDriver({ model, prefix: opts.emulationPrefix });
      } else {
        throw new ScoreError('CLI_USAGE', `--driver: expected libvirt or emulated, got "${opts.driver}"`);
      }
      const agent = await startAgent({ hypervisor: opts.hypervisor, apiUrl: opts.controller, token, driver, host: m[1]!, port: Number(m[2]) });
      console.log(`agent for ${opts.hypervisor} (${driver.name} driver) listening on ${agent.url}, registered with ${opts.controller}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await agent.stop();
    });
}
