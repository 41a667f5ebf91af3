/**
 * Where the reader is in the message view. While they are at the bottom the view stays there,
 * whatever grows or shrinks after (a late "Seen by", a failed send's status, the banner coming
 * or going, fonts): a ResizeObserver pins it again after each layout, before paint. Scrolled
 * up, nothing moves under them.
 */
/**
 * Within this many pixels of the end counts as at the bottom: a layout change can land
 * between our own jump and its scroll event (the pill hiding, a line wrapping).
 */
const NEAR = 8;

export class Pin {
  #atBottom = true;
  #observer: ResizeObserver | undefined;
  /** Where the last scroll event found the view, to tell the reader scrolling up from growth. */
  #lastTop = 0;
  #onScroll = () => {
    const top = this.#scroller.scrollTop;
    const up = top < this.#lastTop;
    this.#lastTop = top;
    const was = this.#atBottom;
    const near = this.distance() <= NEAR;
    if (was && !near && !up) {
      // Only the reader scrolling up leaves the bottom. This event may be our own jump's,
      // dispatched after the content grew again (a "Seen by" rendered between the two): a
      // gap then is growth to follow, not the reader going away (it left the view short of
      // the end for good, as no later resize pinned an unpinned view).
      this.toBottom();
      return;
    }
    this.#atBottom = near;
    if (near && !was) this.#onBottom();
  };

  readonly #scroller: HTMLElement;
  /** The reader came back to the bottom (by scrolling, or by a jump). */
  readonly #onBottom: () => void;

  constructor(scroller: HTMLElement, content: HTMLElement, onBottom: () => void) {
    this.#onBottom = onBottom;
    this.#scroller = scroller;
    scroller.addEventListener("scroll", this.#onScroll, { passive: true });
    if (typeof ResizeObserver === "function") {
      this.#observer = new ResizeObserver(() => {
        if (this.#atBottom) this.toBottom();
      });
      this.#observer.observe(scroller);
      this.#observer.observe(content);
    }
  }

  /** Whether the reader is at the bottom (and so sees the newest message). */
  get atBottom(): boolean {
    return this.#atBottom;
  }

  /** Pixels between the bottom of what is shown and the end of the content. */
  distance(): number {
    const s = this.#scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  /** Jumps to the end and stays there. */
  toBottom(): void {
    const s = this.#scroller;
    s.scrollTop = s.scrollHeight;
    if (!this.#atBottom) {
      this.#atBottom = true;
      this.#onBottom();
    }
  }

  /**
   * Scrolls just enough to show `el` (its end when it is taller than the view), inside the
   * widget only: `scrollIntoView` would scroll the host page too.
   */
  reveal(el: Element): void {
    const s = this.#scroller;
    const view = s.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    if (box.bottom > view.bottom) s.scrollTop += box.bottom - view.bottom + 8;
    else if (box.top < view.top) s.scrollTop -= view.top - box.top + 8;
    this.#atBottom = this.distance() <= NEAR;
  }

  dispose(): void {
    this.#scroller.removeEventListener("scroll", this.#onScroll);
    this.#observer?.disconnect();
  }
}
