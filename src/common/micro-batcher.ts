export interface MicroBatcherOptions<I, O, P = undefined> {
  /** Runs one batch with the permit it waited for; must answer one result per item, in order. */
  execute: (items: I[], permit: P) => Promise<O[]>;
  maxBatchSize: number;
  /** Batches allowed to run at once; while they run, new items gather into the next batch. */
  maxInFlight?: number;
  /**
   * How long an item waits for company before its batch goes (default: one tick), counted from the
   * oldest item not yet sent, also while earlier batches run. A few milliseconds turn a steady
   * trickle into fewer, larger statements, at that cost in latency. A full batch goes at once.
   */
  lingerMs?: number;
  /**
   * What a batch waits for before it is cut (a slot of a rate limit, say): items that arrive while
   * it waits join it, so a scarce resource is spent on full batches. A permit that arrives when no
   * item is left goes back through `release`. A permit that fails fails the items waiting for it.
   */
  permit?: { acquire: () => Promise<P>; release: (permit: P) => void };
}

/**
 * Group commit: items added in the same tick (or linger), or while earlier batches are running, go
 * out together. Under load, batches grow instead of queueing round trips.
 */
export class MicroBatcher<I, O, P = undefined> {
  private pending: Array<{ item: I; addedAt: number; resolve: (value: O) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;
  private awaitingPermit = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: MicroBatcherOptions<I, O, P>) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, addedAt: performance.now(), resolve, reject });
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
    const oldest = this.pending[this.awaitingPermit * this.options.maxBatchSize];
    if (this.options.lingerMs && oldest) setTimeout(go, Math.max(0, oldest.addedAt + this.options.lingerMs - performance.now()));
    else setImmediate(go);
  }

  /** Whether the items no batch has claimed yet should go now: a full batch's worth, or the oldest has waited out the linger. */
  private due(): boolean {
    const { lingerMs, maxBatchSize } = this.options;
    const claimed = this.awaitingPermit * maxBatchSize;
    if (!lingerMs || this.pending.length - claimed >= maxBatchSize) return true;
    return performance.now() - this.pending[claimed].addedAt >= lingerMs;
  }

  private flush(): void {
    const maxInFlight = this.options.maxInFlight ?? 1;
    const { permit, maxBatchSize } = this.options;
    // With permits, only as many waits as the pending items can fill.
    while (this.pending.length > this.awaitingPermit * maxBatchSize && this.inFlight < maxInFlight) {
      if (!this.due()) {
        this.schedule();
        return;
      }
      this.inFlight++;
      if (permit) void this.cutWhenPermitted(permit);
      else void this.run(this.pending.splice(0, maxBatchSize), undefined as P);
    }
  }

  private async cutWhenPermitted(permit: NonNullable<MicroBatcherOptions<I, O, P>['permit']>): Promise<void> {
    let granted: P;
    this.awaitingPermit++;
    try {
      granted = await permit.acquire();
    } catch (error) {
      this.awaitingPermit--;
      const batch = this.pending.splice(0, this.options.maxBatchSize);
      batch.forEach((entry) => entry.reject(error));
      this.settled();
      return;
    }
    this.awaitingPermit--;
    const batch = this.pending.splice(0, this.options.maxBatchSize);
    if (batch.length === 0) {
      permit.release(granted);
      this.settled();
      return;
    }
    if (this.pending.length > 0) this.flush();
    void this.run(batch, granted);
  }

  /** A batch (or a wait for a permit) is over: start the next, or tell drain() all is done. */
  private settled(): void {
    this.inFlight--;
    if (this.pending.length > 0) this.flush();
    else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async run(batch: typeof this.pending, permit: P): Promise<void> {
    try {
      const results = await this.options.execute(
        batch.map((entry) => entry.item),
        permit,
      );
      if (results.length !== batch.length) {
        throw new Error(`batch answered ${results.length} results for ${batch.length} items`);
      }
      batch.forEach((entry, index) => entry.resolve(results[index]));
    } catch (error) {
      batch.forEach((entry) => entry.reject(error));
    } finally {
      this.settled();
    }
  }
}
