import { Command } from 'commander';
import { cliContext } from '../context.js';
import { settingFlags, settingsFromFlags } from './up.js';
import { dnsDoctorCommand } from './dns-doctor.js';

/**
 * `gatehouse doctor`: the same flags, environment and config file as `up`, so that it checks the
 * instance the operator runs (or is about to), not the defaults. Reads only.
 */
export function doctorCommand(): Command {
  return (
    settingFlags(
      new Command('doctor').description(
        'check nginx and its modules, ports, data dir and database (reads only)',
      ),
    )
      // `gatehouse doctor dns`: the running Gatehouse checks DNS (the same as `gatehouse dns doctor`).
      .addCommand(dnsDoctorCommand('dns'))
      .action(async (_o, c: Command) => {
        const ctx = cliContext(c);
        const { runDoctor } = await import('../doctor.js');
        const checks = await runDoctor(settingsFromFlags(c));
        ctx.print(checks.map((ch) => `${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name}: ${ch.detail}`).join('\n'), {
          ok: checks.every((x) => x.ok),
          checks,
        });
        if (!checks.every((x) => x.ok)) process.exitCode = 1;
      })
  );
}
