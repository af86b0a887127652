// application/x-www-form-urlencoded with PHP-style brackets (categories[add][category][]=7), both ways.
import qs from 'qs';
import type { Tree, TreeObject } from './tree.js';
import { Errors } from '../errors.js';

export function parseForm(text: string): TreeObject {
  if (text.trim() === '') return {};
  try {
    return qs.parse(text, {
      depth: 10,
      parameterLimit: 5000,
      arrayLimit: 5000,
      allowDots: false,
      strictDepth: true,
    }) as TreeObject;
  } catch (e) {
    throw Errors.badRequest('request', `Malformed form data: ${(e as Error).message}`);
  }
}

/** Encodes a tree in PHP bracket notation: $_POST['content']['item']['fields']['lastname'] works. */
export function encodeForm(tree: TreeObject): string {
  const parts: string[] = [];
  const walk = (prefix: string, value: Tree): void => {
    if (value === null || value === undefined) {
      parts.push(`${encodeURIComponent(prefix)}=`);
    } else if (typeof value !== 'object') {
      parts.push(
        `${encodeURIComponent(prefix)}=${encodeURIComponent(typeof value === 'boolean' ? (value ? 1 : 0) : value)}`,
      );
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    } else {
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
      for (const [k, v] of entries) walk(prefix ? `${prefix}[${k}]` : k, v);
    }
  };
  walk('', tree);
  return parts.join('&');
}
