/** The not-configured forge reads no API responses; the file exists so every forge folder has the same files. */
export {};
