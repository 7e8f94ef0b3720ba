import { Command, CommanderError } from 'commander';
import { GatehouseError } from '../model/errors.js';
import { serviceCommand } from './commands/service.js';
import { snapshotCommand } from './commands/snapshot.js';
import { auditCommand } from './commands/audit.js';
import { statusCommand } from './commands/status.js';
import { doctorCommand } from './commands/doctor.js';
import { upCommand } from './commands/up.js';
import { linkCommand } from './commands/link.js';
import { providerCommand } from './commands/provider.js';
import { certCommand } from './commands/cert.js';
import { edgeCommand, nodeCommand } from './commands/edge.js';
import { haCommand } from './commands/ha.js';
import { applyCommand } from './commands/apply.js';
import { agentCommand } from './commands/agent.js';
import { groupCommand, hashPasswordCommand, sessionCommand, userCommand } from './commands/user.js';

export function buildCli(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: a self-hosted edge platform driving nginx')
    .option('--json', 'machine-readable output')
    .option(
      '--api <url>',
      'management API URL (default: the local socket in the data dir; env GATEHOUSE_API)',
    )
    .option('--token <token>', 'admin token for --api (env GATEHOUSE_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'data directory (env GATEHOUSE_DATA_DIR)')
    .option('--config <file>', 'YAML settings file (env GATEHOUSE_CONFIG)')
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(upCommand());
  program.addCommand(serviceCommand());
  program.addCommand(snapshotCommand());
  program.addCommand(userCommand());
  program.addCommand(groupCommand());
  program.addCommand(sessionCommand());
  program.addCommand(linkCommand());
  program.addCommand(providerCommand());
  program.addCommand(hashPasswordCommand());
  program.addCommand(certCommand());
  program.addCommand(nodeCommand());
  program.addCommand(edgeCommand());
  program.addCommand(haCommand());
  program.addCommand(applyCommand());
  program.addCommand(agentCommand());
  program.addCommand(statusCommand());
  program.addCommand(auditCommand());
  program.addCommand(doctorCommand());
  return program;
}

/** Runs the CLI; errors become one line on stderr and a non-zero exit, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof GatehouseError) {
      console.error(`error: ${err.message}`);
      for (const i of err.issues.slice(1)) console.error(`  ${i.field}: ${i.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
