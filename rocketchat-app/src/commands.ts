/**
 * The one table of the slash commands this App registers, and how each reaches the bot.
 *
 * Every command is forwarded the same way: its command line is posted, as the person, into
 * their direct messages with the bot, so the bot's parser, replies and audit stay the one
 * place that decides. What differs per command is said here:
 * - `botCommand`: what the bot receives in place of the name (`/away` becomes `/status away`);
 * - `freeText`: without arguments, a box opens whose text is forwarded exactly (Rocket.Chat
 *   splits a slash command's arguments on whitespace and strips quotes, so `I'm Bob's friend`
 *   would arrive mangled);
 * - `delivery`: `forward`; `confirm` (forward, then Yes/No buttons for the bot's question); or
 *   `secret`, which forwards nothing that could hold a secret and only says what to send in the
 *   direct messages instead (only the first words listed in `safe` are forwarded).
 */

export type Delivery =
    | { readonly kind: 'forward' }
    | { readonly kind: 'confirm' }
    | { readonly kind: 'secret'; readonly safe: ReadonlyArray<string>; readonly tell: string };

export interface CommandSpec {
    /** What people type after the slash. */
    readonly name: string;
    /** The bot's command line that replaces the name (without the slash). */
    readonly botCommand: string;
    /** One line in the composer's autocomplete. */
    readonly description: string;
    /** The parameter hint shown next to the name. */
    readonly params: string;
    /** Called without arguments, open a box that keeps the text exactly. */
    readonly freeText: boolean;
    /** The box takes several lines (a bio may have paragraphs; a status is one line). */
    readonly multiline?: boolean;
    readonly delivery: Delivery;
}

const FORWARD: Delivery = { kind: 'forward' };
const CONFIRM: Delivery = { kind: 'confirm' };
const EXACT = '(alone: a box that keeps your text exactly)';
const WHEN = '[for <duration> | until <HH:MM>]';

function presence(name: string, description: string): CommandSpec {
    return {
        name,
        botCommand: `status ${name}`,
        description,
        params: `[text] ${WHEN}`,
        freeText: false,
        delivery: FORWARD,
    };
}

/** `{bot}` in a `tell` text stands for the bot's username. */
export const COMMANDS: ReadonlyArray<CommandSpec> = [
    {
        name: 'bio',
        botCommand: 'bio',
        description: 'Set or clear your bio (rcbot)',
        params: `<text> | clear ${EXACT}`,
        freeText: true,
        multiline: true,
        delivery: FORWARD,
    },
    {
        name: 'nick',
        botCommand: 'nick',
        description: 'Set or clear your nickname (rcbot)',
        params: '<nickname> | clear',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'name',
        botCommand: 'name',
        description: 'Set your display name (rcbot)',
        params: '<display name>',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'field',
        botCommand: 'field',
        description: "Set or clear one of the workspace's custom fields (rcbot)",
        params: '<field> <value> | <field> clear',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'profile',
        botCommand: 'profile',
        description: 'Show your profile (rcbot)',
        params: '',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'undo',
        botCommand: 'undo',
        description: 'Put back what your last change through rcbot replaced',
        params: '',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'audit',
        botCommand: 'audit',
        description: 'The last changes rcbot made on your account, and why',
        params: '[@user]',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'rules',
        botCommand: 'rules',
        description: 'The automation rules that apply to you; opt out or in (rcbot)',
        params: '[off <rule> | on <rule>]',
        freeText: false,
        delivery: FORWARD,
    },
    {
        name: 'token',
        botCommand: 'token',
        description: 'Give rcbot your personal access token, in your DM with the bot',
        params: '(opens your DM with the bot)',
        freeText: false,
        delivery: {
            kind: 'secret',
            safe: [],
            tell:
                'A token is as good as your password, so it never goes through a slash command. ' +
                'Send it in your direct messages with @{bot}: `/token set <token>` ' +
                '(there also `/token status` and `/token forget`).',
        },
    },
    {
        name: 'email',
        botCommand: 'email',
        description: 'Change your e-mail address, confirmed with Yes/No (rcbot)',
        params: '<new address>',
        freeText: false,
        delivery: CONFIRM,
    },
    {
        name: 'username',
        botCommand: 'username',
        description: 'Change your username, confirmed with Yes/No (rcbot)',
        params: '<new username>',
        freeText: false,
        delivery: CONFIRM,
    },
    {
        name: 'password',
        botCommand: 'password',
        description: 'Change your password, in your DM with the bot (rcbot)',
        params: '(opens your DM with the bot)',
        freeText: false,
        delivery: {
            kind: 'secret',
            safe: [],
            tell:
                'A password never goes through a slash command. Send `/password` in your direct ' +
                'messages with @{bot}: it asks for the new password there.',
        },
    },
    {
        name: 'ooo',
        botCommand: 'ooo',
        description: 'Out of office: set your status until a date or for a while (rcbot)',
        params: `until <YYYY-MM-DD> [text] | for <duration> [text] | off ${EXACT}`,
        freeText: true,
        delivery: FORWARD,
    },
    {
        name: 'calendar',
        botCommand: 'calendar',
        description: 'Your calendar feed for rcbot: status, off (set it in your DM with the bot)',
        params: 'status | off',
        freeText: false,
        delivery: {
            kind: 'secret',
            safe: ['status', 'off'],
            tell:
                "Your calendar's address is a secret (anyone with it can read your calendar), so " +
                'it never goes through a slash command. Send it in your direct messages with ' +
                '@{bot}: `/calendar set <ICS URL>`. Here, `/calendar status` and `/calendar off` work.',
        },
    },
    presence('away', 'Set your status to away, with an optional text (rcbot)'),
    presence('busy', 'Set your status to busy, with an optional text (rcbot)'),
    presence('online', 'Set your status to online, with an optional text (rcbot)'),
    presence('offline', 'Set your status to offline, with an optional text (rcbot)'),
    {
        name: 'mystatus',
        botCommand: 'status',
        description: 'Set your status text and presence, for good or for a while (rcbot)',
        params: `[online|away|busy|offline] [text] ${WHEN} | clear ${EXACT}`,
        freeText: true,
        delivery: FORWARD,
    },
];

/** The spec registered under `name`, if any. */
export function findCommand(name: string): CommandSpec | undefined {
    return COMMANDS.find((spec) => spec.name === name);
}
