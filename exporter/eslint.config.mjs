// Lint rules for the exporter's sources, tests and benchmarks (and, from the root, test/).
// typescript-eslint's recommended set plus the few rules that catch real bugs in async Node code.
import tsParser from '@typescript-eslint/parser';
import tsPlugin from '@typescript-eslint/eslint-plugin';

// SQL lives in store modules only (`store.ts` of a domain, `src/store/`): a string or template
// literal that reads like SQL, or a prepare()/pragma() call, anywhere else in src/ is an error.
// The regex looks for upper-case SQL (the code base's style); lower-case prose does not match.
const SQL =
  String.raw`\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+[A-Z]+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|` +
  String.raw`(CREATE|DROP)\s+(UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)|ALTER\s+TABLE|PRAGMA\s|BEGIN\s+(IMMEDIATE|DEFERRED|EXCLUSIVE)|` +
  String.raw`ON\s+CONFLICT|(LEFT|CROSS|INNER)\s+JOIN|IS\s+(NOT\s+)?NULL\b|ORDER\s+BY|GROUP\s+BY)`;
const SQL_MESSAGE =
  "SQL belongs in a store module (a domain's store.ts or src/store/): add a typed method there and call it.";
export const SQL_OUTSIDE_STORES = [
  { selector: `Literal[value=/${SQL}/]`, message: SQL_MESSAGE },
  { selector: `TemplateElement[value.raw=/${SQL}/]`, message: SQL_MESSAGE },
  { selector: 'CallExpression[callee.property.name=/^(prepare|pragma)$/]', message: SQL_MESSAGE },
];
export const STORE_MODULES = ['src/**/store.ts', 'src/**/store/**'];

export default [
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  {
    files: ['**/*.ts', '**/*.mjs'],
    languageOptions: { parser: tsParser, ecmaVersion: 2023, sourceType: 'module' },
    plugins: { '@typescript-eslint': tsPlugin },
    rules: {
      ...tsPlugin.configs['eslint-recommended'].overrides[0].rules,
      ...tsPlugin.configs.recommended.rules,
      '@typescript-eslint/no-explicit-any': 'off', // tests read untyped JSON bodies
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-throw-literal': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: STORE_MODULES,
    rules: { 'no-restricted-syntax': ['error', ...SQL_OUTSIDE_STORES] },
  },
  {
    // IPAM's tables are private to IPAM: other domains use IpamService's read API.
    files: ['src/**/*.ts'],
    ignores: ['src/ipam/**', 'src/server.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'IpamService',
          property: 'storeOf',
          message: "IPAM owns its tables: read them through IpamService's read API.",
        },
      ],
    },
  },
];
