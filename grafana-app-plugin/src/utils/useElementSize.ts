import { type RefObject, useLayoutEffect, useState } from 'react';

/**
 * What `read` measures of the element (its width, its height, …), kept up to date as it is
 * resized; `fallback` until it is laid out, and where nothing is laid out (jsdom in tests).
 */
export function useElementSize(
  ref: RefObject<HTMLElement>,
  read: (el: HTMLElement) => number,
  fallback: number
): number {
  const [size, setSize] = useState(fallback);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const measure = () => {
      const value = read(el);
      setSize(value > 0 ? value : fallback);
    };
    measure();
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
    // `read` is a function of the element alone: measured again only when the element changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ref, fallback]);
  return size;
}
