/**
 * The one slash command class: an instance per row of the command table (src/commands.ts).
 */
import type { IHttp, ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { ISlashCommand, SlashCommandContext } from '@rocket.chat/apps-engine/definition/slashcommands';

import { NotReachable, botUsername, directRoom, tellPrivately } from './botDirect';
import { commandLine } from './commandLine';
import type { CommandSpec, Delivery } from './commands';
import { confirmBlock } from './confirmButtons';
import { forward } from './forwarding';
import { descriptionKey, paramsKey } from './i18n';
import { textModal } from './textModal';

/** What a command needs from the App that registers it. */
export interface CommandHost {
    getID(): string;
    getLogger(): ILogger;
}

export class ForwardedCommand implements ISlashCommand {
    public readonly command: string;
    public readonly i18nDescription: string;
    public readonly i18nParamsExample: string;
    public readonly providesPreview = false;

    constructor(
        private readonly spec: CommandSpec,
        private readonly host: CommandHost,
    ) {
        this.command = spec.name;
        this.i18nDescription = descriptionKey(spec);
        this.i18nParamsExample = paramsKey(spec);
    }

    public async executor(
        context: SlashCommandContext,
        read: IRead,
        modify: IModify,
        _http: IHttp,
        _persis: IPersistence,
    ): Promise<void> {
        const person = context.getSender();
        const here = context.getRoom();
        const args = context.getArguments();
        const { delivery } = this.spec;
        try {
            if (delivery.kind === 'secret' && !forwardsSafely(delivery, args)) {
                const bot = await botUsername(read);
                await directRoom(person, bot, read, modify);
                await tellPrivately(person, here, delivery.tell.replace(/\{bot\}/g, bot), modify);
                return;
            }
            const triggerId = context.getTriggerId();
            if (this.spec.freeText && args.length === 0 && triggerId) {
                const modal = textModal(this.host.getID(), this.spec);
                await modify.getUiController().openSurfaceView(modal, { triggerId }, person);
                return;
            }
            const text = commandLine(this.spec.botCommand, args);
            const { bot, room } = await forward(person, text, read, modify);
            if (delivery.kind === 'confirm' && args.length > 0) {
                const buttons = confirmBlock(this.host.getID(), person.id, new Date());
                const question = `@${bot} asks you in your direct messages to confirm \`${text}\`. Your answer:`;
                await tellPrivately(person, here, question, modify, [buttons]);
            } else if (room.id !== here.id) {
                const note = `Sent \`${text}\` to @${bot}: the answer is in your direct messages with it.`;
                await tellPrivately(person, here, note, modify);
            }
        } catch (error) {
            if (!(error instanceof NotReachable)) {
                throw error;
            }
            this.host.getLogger().warn(`/${this.spec.name}: ${error.message}`);
            await tellPrivately(person, here, error.message, modify);
        }
    }
}

/** A secret command forwards only a single word listed as safe (`/calendar status`). */
function forwardsSafely(delivery: Extract<Delivery, { kind: 'secret' }>, args: ReadonlyArray<string>): boolean {
    return args.length === 1 && delivery.safe.includes(args[0].toLowerCase());
}
