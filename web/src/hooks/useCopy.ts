import { useRef, useState } from 'react';

/**
 * A Copy button's work: `value` to the clipboard, or, without one (plain HTTP, or refused), the
 * text of `field` selected so the keyboard can copy it. `copied` says which happened.
 */
export function useCopy<E extends HTMLInputElement | HTMLTextAreaElement = HTMLInputElement>(value: string) {
  const field = useRef<E>(null);
  const [copied, setCopied] = useState('');
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied.');
    } catch {
      field.current?.focus();
      field.current?.select();
      setCopied('Selected: press Ctrl+C (⌘C) to copy.');
    }
  }
  return { field, copied, copy: () => void copy() };
}
