// What jsdom lacks and @grafana/ui uses: a canvas 2D context (the Combobox measures option
// text), ResizeObserver and IntersectionObserver (the Drawer's scroll container). Import it in tests that need them.
const context = {
  font: '',
  measureText: (text: string) => ({ width: text.length * 7 }),
};
HTMLCanvasElement.prototype.getContext = (() => context) as unknown as HTMLCanvasElement['getContext'];

if (typeof window.ResizeObserver === 'undefined') {
  class NoResizeObserver {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  Object.assign(window, { ResizeObserver: NoResizeObserver });
  Object.assign(global, { ResizeObserver: NoResizeObserver });
}

if (typeof window.IntersectionObserver === 'undefined') {
  class NoIntersectionObserver {
    readonly root = null;
    readonly rootMargin = '';
    readonly thresholds = [];
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  }
  Object.assign(window, { IntersectionObserver: NoIntersectionObserver });
  Object.assign(global, { IntersectionObserver: NoIntersectionObserver });
}

export {};
