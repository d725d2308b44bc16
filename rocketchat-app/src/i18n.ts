/**
 * The App's texts for Rocket.Chat's UI, by key. Rocket.Chat shows a command's description and
 * parameter hint, and a setting's label, through the App's translations (`i18n/en.json`, keys
 * scoped to the App), so the table's English texts are written there under these keys; a unit
 * test keeps the file equal to `i18nEntries()`.
 */
import { COMMANDS } from './commands';
import type { CommandSpec } from './commands';
import { SETTINGS } from './settings';

export function descriptionKey(spec: CommandSpec): string {
    return `${spec.name}_description`;
}

/** The hint's key, or '' for a command without parameters (Rocket.Chat then shows none). */
export function paramsKey(spec: CommandSpec): string {
    return spec.params ? `${spec.name}_params` : '';
}

/** Every key of `i18n/en.json` with its English text. */
export function i18nEntries(): Record<string, string> {
    const entries: Record<string, string> = {};
    for (const spec of COMMANDS) {
        entries[descriptionKey(spec)] = spec.description;
        if (spec.params) {
            entries[paramsKey(spec)] = spec.params;
        }
    }
    for (const setting of SETTINGS) {
        entries[setting.setting.i18nLabel] = setting.label;
        if (setting.setting.i18nDescription) {
            entries[setting.setting.i18nDescription] = setting.description;
        }
    }
    return entries;
}
