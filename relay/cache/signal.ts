// A reusable "something changed" signal: waiters get a promise resolved by the next notify().
export class ChangeSignal {
  #resolve: () => void = () => {};
  #promise: Promise<void> = this.#next();

  #next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  wait(): Promise<void> {
    return this.#promise;
  }

  notify(): void {
    const resolve = this.#resolve;
    this.#promise = this.#next();
    resolve();
  }
}
