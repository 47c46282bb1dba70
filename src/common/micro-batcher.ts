export interface MicroBatcherOptions<I, O> {
  /** Runs one batch; must answer one result per item, in order. */
  execute: (items: I[]) => Promise<O[]>;
  maxBatchSize: number;
  /** Batches allowed to run at once; while they run, new items gather into the next batch. */
  maxInFlight?: number;
  /**
   * How long a first item waits for company before its batch goes (default: one tick). A millisecond
   * or two turns a steady trickle into fewer, larger statements, at that cost in latency. A full
   * batch goes at once.
   */
  lingerMs?: number;
}

/**
 * Group commit: items added in the same tick (or linger), or while earlier batches are running, go
 * out together. Under load, batches grow instead of queueing round trips.
 */
export class MicroBatcher<I, O> {
  private pending: Array<{ item: I; resolve: (value: O) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: MicroBatcherOptions<I, O>) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxBatchSize) this.flush();
      else this.schedule();
    });
  }

  /**
   * Takes back an item that has not gone out in a batch yet: it will not be executed and its
   * promise never settles. Answers false when it is already on its way (or unknown).
   */
  withdraw(item: I): boolean {
    const index = this.pending.findIndex((entry) => entry.item === item);
    if (index < 0) return false;
    this.pending.splice(index, 1);
    if (this.pending.length === 0 && this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    return true;
  }

  addAll(items: I[]): Promise<O[]> {
    return Promise.all(items.map((item) => this.add(item)));
  }

  /** Resolves once every item added so far has been executed. */
  async drain(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.options.lingerMs) setTimeout(go, this.options.lingerMs);
    else setImmediate(go);
  }

  private flush(): void {
    const maxInFlight = this.options.maxInFlight ?? 1;
    while (this.pending.length > 0 && this.inFlight < maxInFlight) {
      const batch = this.pending.splice(0, this.options.maxBatchSize);
      this.inFlight++;
      void this.run(batch);
    }
  }

  private async run(batch: typeof this.pending): Promise<void> {
    try {
      const results = await this.options.execute(batch.map((entry) => entry.item));
      if (results.length !== batch.length) {
        throw new Error(`batch answered ${results.length} results for ${batch.length} items`);
      }
      batch.forEach((entry, index) => entry.resolve(results[index]));
    } catch (error) {
      batch.forEach((entry) => entry.reject(error));
    } finally {
      this.inFlight--;
      if (this.pending.length > 0) this.flush();
      else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }
}
