// Lint: zero warnings, and the import ladder from DESIGN.md enforced per layer.
// frost ← protocol, release ← ceremony, audit, client ← apps (packages never import apps).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ALL = ['frost', 'protocol', 'release', 'ceremony', 'audit', 'client'];
const ladder = {
  frost: [],
  protocol: ['frost'],
  release: ['frost'],
  ceremony: ['frost', 'protocol', 'release'],
  audit: ['frost', 'protocol', 'release'],
  client: ['frost', 'protocol', 'release'],
};

const forbid = (allowed) => [
  ...ALL.filter((p) => !allowed.includes(p)).map((p) => ({
    group: [`@conclave/${p}`, `@conclave/${p}/*`],
    message: `@conclave/${p} is not below this package in the layering (DESIGN.md).`,
  })),
  {
    group: ['@conclave/coordinator', '@conclave/coordinator/*', '@conclave/cli', '@conclave/cli/*'],
    message: 'packages never import apps.',
  },
  {
    group: ['../../*/src/*', '../../../packages/*', '../../../apps/*'],
    message: 'import other packages through their exports, not by path.',
  },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...Object.entries(ladder).map(([pkg, allowed]) => ({
    files: [`packages/${pkg}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: forbid(allowed) }],
      'no-console': 'error',
    },
  })),
  {
    files: ['apps/**/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@conclave/*/src/*', '../../../packages/*'],
              message: 'apps import packages through their exports only.',
            },
          ],
        },
      ],
    },
  },
);
