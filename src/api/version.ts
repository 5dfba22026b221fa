// The program's version, from package.json (one place to bump).
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
