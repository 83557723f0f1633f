/** The product version every role reports. */
export const VERSION = "0.1.0";
