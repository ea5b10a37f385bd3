/** The not-configured forge takes no options. */
export type NotConfiguredForgeOptions = Record<string, never>;
