/** The App's settings (Administration → Apps → rcbot commands → Settings). */
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import { SettingType } from '@rocket.chat/apps-engine/definition/settings';

import { BOT_USERNAME_SETTING } from './botDirect';

export interface DescribedSetting {
    readonly setting: ISetting;
    readonly label: string;
    readonly description: string;
}

export const SETTINGS: ReadonlyArray<DescribedSetting> = [
    {
        setting: {
            id: BOT_USERNAME_SETTING,
            type: SettingType.STRING,
            packageValue: 'profilebot',
            required: true,
            public: false,
            i18nLabel: 'bot_username_label',
            i18nDescription: 'bot_username_description',
        },
        label: 'Bot username',
        description:
            "The username of rcbot's account (the `username` in its bot.toml). Commands are " +
            'posted, as the person, into their direct messages with this account.',
    },
];
