// Lint: ESLint's and typescript-eslint's recommended rules (no type-aware rules: they need the compiler API
// of TypeScript 5.9, which is what the project pins).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'hookline-data/', 'coverage/', 'bench/_*'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The examples are plain Node.js scripts, to be copied as they are.
    files: ['examples/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URLSearchParams: 'readonly' },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
