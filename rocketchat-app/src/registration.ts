/**
 * Registering the table's commands, one by one: a name the workspace already has (Rocket.Chat's
 * own `/status`, another App's command) is skipped with a log line instead of failing the App.
 */
import type { ISlashCommandsExtend } from '@rocket.chat/apps-engine/definition/accessors';

import { COMMANDS } from './commands';
import { ForwardedCommand } from './ForwardedCommand';
import type { CommandHost } from './ForwardedCommand';

/** Provide every command of the table; return the names registered. */
export async function registerCommands(slashCommands: ISlashCommandsExtend, host: CommandHost): Promise<Array<string>> {
    const registered: Array<string> = [];
    for (const spec of COMMANDS) {
        try {
            await slashCommands.provideSlashCommand(new ForwardedCommand(spec, host));
            registered.push(spec.name);
        } catch (error) {
            if (!isNameClash(error)) {
                throw error;
            }
            host.getLogger().warn(
                `/${spec.name} is not registered: the workspace already has a command of that name.`,
            );
        }
    }
    return registered;
}

/**
 * The engine throws CommandAlreadyExistsError (name "CommandAlreadyExists",
 * apps-engine server/managers/AppSlashCommandManager.ts); an App in the Deno runtime receives
 * only its message, as a plain Error (deno-runtime/lib/accessors/formatResponseErrorHandler.ts).
 */
export function isNameClash(error: unknown): boolean {
    if (typeof error !== 'object' || error === null) {
        return false;
    }
    const { name, message } = error as { name?: unknown; message?: unknown };
    return (
        name === 'CommandAlreadyExists' ||
        (typeof message === 'string' && /^The command "[^"]*" already exists in the system\.$/.test(message))
    );
}
