// Lint rules, including the module boundaries DESIGN.md sets: proxy and control meet only in api and xds, and the
// assembly (src/app) is the only place control meets the console and telemetry.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const boundary = (forbidden, why) => ({
  "no-restricted-imports": ["error", { patterns: [{ group: forbidden, message: why }] }],
});

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "src/xds/generated/**", "src/api/generated/**", "src/console/web/dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", Buffer: "readonly", URL: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    files: ["src/console/web/**/*.{ts,tsx}"],
    languageOptions: { globals: { window: "readonly", document: "readonly", fetch: "readonly", HashChangeEvent: "readonly", URLSearchParams: "readonly", HTMLDivElement: "readonly" } },
  },
  { files: ["src/proxy/**/*.ts"], rules: boundary(["**/control/**", "**/telemetry/**", "**/console/**", "**/cli/**"], "proxy meets control only in src/api, src/xds and src/identity") },
  // The core of the control plane knows neither the console nor telemetry: src/app wires them to it (DESIGN.md).
  // Types of the assembly may be named (a replica attaches to the assembled control plane), nothing of it run.
  {
    files: ["src/control/**/*.ts"],
    rules: {
      ...boundary(["**/proxy/**", "**/cli/**", "**/telemetry/**", "**/console/**"], "control meets proxy only in src/api, src/xds and src/identity; the console and telemetry are wired to it in src/app"),
      "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ group: ["**/app/**"], allowTypeImports: true, message: "src/app assembles control; control does not run it (type imports are allowed)" }] }],
    },
  },
  { files: ["src/app/**/*.ts"], rules: boundary(["**/cli/**"], "src/app assembles processes for the CLI; it does not import the CLI") },
  { files: ["src/api/**/*.ts", "src/xds/**/*.ts", "src/identity/**/*.ts", "src/native/**/*.ts"], rules: boundary(["**/proxy/**", "**/control/**", "**/cli/**", "**/telemetry/**", "**/console/**"], "api, xds and identity are shared leaves: they import nothing above them") },
);
