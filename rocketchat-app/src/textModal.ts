/**
 * The text box of a free-text command (`/bio`, `/mystatus`, `/ooo` called without arguments).
 *
 * A modal's text arrives untouched (no splitting, no quote stripping), so what the person wrote
 * is what the bot receives. The view id names the command, the only state the modal needs.
 */
import { UIKitSurfaceType } from '@rocket.chat/apps-engine/definition/uikit';
import type { IUIKitSurfaceViewParam } from '@rocket.chat/apps-engine/definition/accessors';
import type { IUIKitSurface } from '@rocket.chat/apps-engine/definition/uikit';
import type { InputBlock } from '@rocket.chat/ui-kit';

import type { CommandSpec } from './commands';

export const MODAL_PREFIX = 'rcbot-text/';
export const TEXT_BLOCK = 'rcbot-text-block';
export const TEXT_ACTION = 'rcbot-text';

/** The modal that asks for the text of `spec`'s command. */
export function textModal(appId: string, spec: CommandSpec): IUIKitSurfaceViewParam {
    const input: InputBlock = {
        type: 'input',
        appId,
        blockId: TEXT_BLOCK,
        label: { type: 'plain_text', text: spec.description },
        hint: { type: 'plain_text', text: 'Sent as you write it: quotes and apostrophes are kept.' },
        element: {
            type: 'plain_text_input',
            appId,
            blockId: TEXT_BLOCK,
            actionId: TEXT_ACTION,
            multiline: spec.multiline ?? false,
        },
    };
    return {
        id: `${MODAL_PREFIX}${spec.name}`,
        type: UIKitSurfaceType.MODAL,
        title: { type: 'plain_text', text: `/${spec.name}` },
        blocks: [input],
        submit: {
            type: 'button',
            appId,
            blockId: TEXT_BLOCK,
            actionId: 'rcbot-text-submit',
            text: { type: 'plain_text', text: 'Send' },
        },
        close: {
            type: 'button',
            appId,
            blockId: TEXT_BLOCK,
            actionId: 'rcbot-text-cancel',
            text: { type: 'plain_text', text: 'Cancel' },
        },
    };
}

/** The command name a submitted view belongs to, if it is one of these modals. */
export function modalCommand(view: IUIKitSurface): string | undefined {
    return view.id.startsWith(MODAL_PREFIX) ? view.id.slice(MODAL_PREFIX.length) : undefined;
}

/** The text written in the box (empty when none). */
export function submittedText(view: IUIKitSurface): string {
    const state = (view.state ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const value = state[TEXT_BLOCK]?.[TEXT_ACTION];
    return typeof value === 'string' ? value : '';
}
