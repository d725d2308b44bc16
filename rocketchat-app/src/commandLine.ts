/**
 * The command line the bot receives, rebuilt from what Rocket.Chat hands a slash command.
 *
 * Rocket.Chat splits the text after a slash command on whitespace, keeps a quoted group as one
 * argument and drops its quotes (apps/meteor/lib/utils/parseParameters.ts). The bot reads its
 * arguments as shell words, so an argument that holds whitespace is quoted again: what the
 * person typed as `/field location "Berlin, Germany"` reaches the bot the same way. A lone
 * apostrophe (`I'm`) is left alone, because the bot takes free text as written.
 */

/** `/botCommand arg …`, with each argument that needs it quoted again. */
export function commandLine(botCommand: string, args: ReadonlyArray<string>): string {
    return [`/${botCommand}`, ...args.map(requote)].join(' ');
}

/** `/botCommand text`, the text exactly as given (from the text box). */
export function exactCommandLine(botCommand: string, text: string): string {
    return `/${botCommand} ${text}`;
}

function requote(arg: string): string {
    if (arg !== '' && !/\s/.test(arg)) {
        return arg;
    }
    return `"${arg.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}
