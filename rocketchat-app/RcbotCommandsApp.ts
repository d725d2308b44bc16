/**
 * rcbot commands: registers the bot's slash commands and forwards each use to the bot, as the
 * person, in their direct messages with it. See src/commands.ts for the table of commands.
 */
import type {
    IAppAccessors,
    IConfigurationExtend,
    IEnvironmentRead,
    IHttp,
    ILogger,
    IModify,
    IPersistence,
    IRead,
} from '@rocket.chat/apps-engine/definition/accessors';
import { App } from '@rocket.chat/apps-engine/definition/App';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import type {
    IUIKitInteractionHandler,
    IUIKitResponse,
    UIKitBlockInteractionContext,
    UIKitViewSubmitInteractionContext,
} from '@rocket.chat/apps-engine/definition/uikit';

import { NotReachable, tellPrivately } from './src/botDirect';
import { findCommand } from './src/commands';
import { AnsweredButtons, CONFIRM_PREFIX, readClick } from './src/confirmButtons';
import { forward } from './src/forwarding';
import { exactCommandLine } from './src/commandLine';
import { registerCommands } from './src/registration';
import { SETTINGS } from './src/settings';
import { TEXT_BLOCK, modalCommand, submittedText } from './src/textModal';

export class RcbotCommandsApp extends App implements IUIKitInteractionHandler {
    private readonly answered = new AnsweredButtons();

    constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
        super(info, logger, accessors);
    }

    protected async extendConfiguration(configuration: IConfigurationExtend, _environment: IEnvironmentRead): Promise<void> {
        for (const { setting } of SETTINGS) {
            await configuration.settings.provideSetting(setting);
        }
        await registerCommands(configuration.slashCommands, this);
    }

    /** A Yes/No click: the person's answer, posted as them in their DM with the bot. */
    public async executeBlockActionHandler(
        context: UIKitBlockInteractionContext,
        read: IRead,
        _http: IHttp,
        _persistence: IPersistence,
        modify: IModify,
    ): Promise<IUIKitResponse> {
        const data = context.getInteractionData();
        const responder = context.getInteractionResponder();
        if (!data.blockId.startsWith(CONFIRM_PREFIX)) {
            return responder.successResponse();
        }
        const now = new Date();
        const click = readClick(data.blockId, data.value, data.user.id, now);
        if (click.kind === 'ignore') {
            return responder.successResponse();
        }
        if (click.kind === 'expired') {
            if (data.room) {
                const late = 'These buttons have expired: answer yes or no in your direct messages with the bot.';
                await tellPrivately(data.user, data.room, late, modify);
            }
            return responder.successResponse();
        }
        if (!this.answered.claim(data.blockId, now)) {
            return responder.successResponse();
        }
        try {
            await forward(data.user, click.answer, read, modify);
        } catch (error) {
            if (!(error instanceof NotReachable) || !data.room) {
                throw error;
            }
            await tellPrivately(data.user, data.room, error.message, modify);
        }
        return responder.successResponse();
    }

    /** A free-text box sent: its text, exactly, after the bot's command. */
    public async executeViewSubmitHandler(
        context: UIKitViewSubmitInteractionContext,
        read: IRead,
        _http: IHttp,
        _persistence: IPersistence,
        modify: IModify,
    ): Promise<IUIKitResponse> {
        const data = context.getInteractionData();
        const responder = context.getInteractionResponder();
        const spec = findCommand(modalCommand(data.view) ?? '');
        if (!spec || !spec.freeText) {
            return responder.successResponse();
        }
        const text = submittedText(data.view);
        if (!text.trim()) {
            return responder.viewErrorResponse({
                viewId: data.view.id,
                errors: { [TEXT_BLOCK]: 'Write the text to send, or cancel.' },
            });
        }
        try {
            await forward(data.user, exactCommandLine(spec.botCommand, text), read, modify);
        } catch (error) {
            if (!(error instanceof NotReachable)) {
                throw error;
            }
            return responder.viewErrorResponse({ viewId: data.view.id, errors: { [TEXT_BLOCK]: error.message } });
        }
        return responder.successResponse();
    }
}
