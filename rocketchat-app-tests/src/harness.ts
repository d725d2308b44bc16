/**
 * Drives the App as Rocket.Chat does: constructs it, lets it register its commands and settings,
 * then runs a command with the engine's SlashCommandContext, clicks a button with
 * UIKitBlockInteractionContext and submits a modal with UIKitViewSubmitInteractionContext.
 */
import type { IRoom } from '@rocket.chat/apps-engine/definition/rooms';
import { SlashCommandContext } from '@rocket.chat/apps-engine/definition/slashcommands';
import type { IUIKitResponse, IUIKitSurface } from '@rocket.chat/apps-engine/definition/uikit';
import {
    UIKitBlockInteractionContext,
    UIKitSurfaceType,
    UIKitViewSubmitInteractionContext,
} from '@rocket.chat/apps-engine/definition/uikit';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import type { ActionsBlock, ButtonElement, LayoutBlock } from '@rocket.chat/ui-kit';

import { RcbotCommandsApp } from '../../rocketchat-app/RcbotCommandsApp';
import { APP_ID, Workspace } from './fakes';

export class Harness {
    public readonly workspace = new Workspace();
    public readonly app: RcbotCommandsApp;
    private triggers = 0;

    private constructor() {
        this.app = new RcbotCommandsApp(this.workspace.appInfo(), this.workspace.logger(), this.workspace.accessors());
    }

    /** An App whose `extendConfiguration` ran against `prepare`d workspace. */
    public static async start(prepare?: (workspace: Workspace) => void): Promise<Harness> {
        const harness = new Harness();
        prepare?.(harness.workspace);
        await harness.app['extendConfiguration'](harness.workspace.configuration(), undefined as never);
        return harness;
    }

    /** `person` types `/name args…` in `room`; the arguments as Rocket.Chat split them. */
    public async run(name: string, args: Array<string>, person: IUser, room: IRoom, withTrigger = true): Promise<void> {
        const command = this.workspace.commands.get(name);
        if (!command) {
            throw new Error(`/${name} is not registered`);
        }
        const triggerId = withTrigger ? `trigger-${++this.triggers}` : undefined;
        const context = new SlashCommandContext(
            Object.freeze(person),
            Object.freeze(room),
            Object.freeze(args) as Array<string>,
            undefined,
            triggerId,
        );
        const ws = this.workspace;
        await command.executor(context, ws.read(), ws.modify(), ws.http(), ws.persistence());
    }

    /** `clicker` clicks `button` in `room`. */
    public async click(button: ButtonElement, clicker: IUser, room: IRoom, value = button.value): Promise<IUIKitResponse> {
        const context = new UIKitBlockInteractionContext({
            appId: APP_ID,
            user: clicker,
            room,
            triggerId: `trigger-${++this.triggers}`,
            actionId: button.actionId,
            blockId: button.blockId,
            value,
            container: { type: 'message', id: 'ephemeral-1' } as never,
        });
        const ws = this.workspace;
        return this.app.executeBlockActionHandler(context, ws.read(), ws.http(), ws.persistence(), ws.modify());
    }

    /** `person` sends the modal `viewId` with `text` in its box. */
    public async submit(viewId: string, state: object, person: IUser): Promise<IUIKitResponse> {
        const view: IUIKitSurface = {
            appId: APP_ID,
            id: viewId,
            type: UIKitSurfaceType.MODAL,
            title: { type: 'plain_text', text: '' },
            blocks: [],
            state,
        };
        const context = new UIKitViewSubmitInteractionContext({
            appId: APP_ID,
            user: person,
            triggerId: `trigger-${++this.triggers}`,
            view,
        });
        const ws = this.workspace;
        return this.app.executeViewSubmitHandler(context, ws.read(), ws.http(), ws.persistence(), ws.modify());
    }

    /** The Yes and No buttons of the last private note that has any. */
    public lastButtons(): { yes: ButtonElement; no: ButtonElement } {
        const withBlocks = this.workspace.notes.filter((note) => note.message.blocks?.length);
        const note = withBlocks[withBlocks.length - 1];
        if (!note) {
            throw new Error('no buttons were shown');
        }
        const actions = (note.message.blocks as Array<LayoutBlock>).find(
            (block): block is ActionsBlock => block.type === 'actions',
        );
        const buttons = (actions?.elements ?? []).filter((element): element is ButtonElement => element.type === 'button');
        const yes = buttons.find((button) => button.value === 'yes');
        const no = buttons.find((button) => button.value === 'no');
        if (!yes || !no) {
            throw new Error('the buttons are not Yes and No');
        }
        return { yes, no };
    }
}
