import { MicroBatcher } from './micro-batcher';

describe('MicroBatcher', () => {
  it('sends items added in the same tick as one batch and answers each in order', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 100,
      execute: async (items) => {
        batches.push(items);
        return items.map((n) => n * 2);
      },
    });
    await expect(Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)])).resolves.toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('gathers items that arrive while a batch runs into the next batch, within the size limit', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 2,
      execute: async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items;
      },
    });
    const first = batcher.add(0);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = batcher.addAll([1, 2, 3]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[0]]);
    release();
    await Promise.all([first, rest]);
    expect(batches).toEqual([[0], [1, 2], [3]]);
  });

  it('rejects every item of a failed batch and goes on with the next', async () => {
    let calls = 0;
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 10,
      execute: async (items) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return items;
      },
    });
    const failed = batcher.addAll([1, 2]);
    await expect(failed).rejects.toThrow('boom');
    await expect(batcher.add(3)).resolves.toBe(3);
  });

  it('refuses a batch that answers the wrong number of results', async () => {
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 10, execute: async () => [] });
    await expect(batcher.add(1)).rejects.toThrow('answered 0 results for 1 items');
  });

  it('drains: resolves when everything added has run', async () => {
    const done: number[] = [];
    const batcher = new MicroBatcher<number, void>({
      maxBatchSize: 1,
      execute: async (items) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        done.push(...items);
        return items.map(() => undefined);
      },
    });
    void batcher.addAll([1, 2, 3]);
    await batcher.drain();
    expect(done).toEqual([1, 2, 3]);
  });

  describe('with a linger', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
    afterEach(() => jest.useRealTimers());

    it('gathers items that arrive within it into one batch', async () => {
      const batches: number[][] = [];
      const batcher = new MicroBatcher<number, number>({
        maxBatchSize: 100,
        lingerMs: 20,
        execute: async (items) => {
          batches.push(items);
          return items;
        },
      });
      const first = batcher.add(1);
      await jest.advanceTimersByTimeAsync(5);
      const second = batcher.add(2);
      await jest.advanceTimersByTimeAsync(14);
      expect(batches).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
      expect(batches).toEqual([[1, 2]]);
    });

    it('sends a full batch at once instead of waiting out the linger', async () => {
      const batches: number[][] = [];
      const batcher = new MicroBatcher<number, number>({
        maxBatchSize: 3,
        lingerMs: 1_000,
        execute: async (items) => {
          batches.push(items);
          return items;
        },
      });
      const answers = batcher.addAll([1, 2, 3]);
      expect(batches).toEqual([[1, 2, 3]]);
      await expect(answers).resolves.toEqual([1, 2, 3]);
    });

    it('takes back an item that has not gone out yet, and refuses one already on its way', async () => {
      const executed: number[][] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const batcher = new MicroBatcher<{ n: number }, number>({
        maxBatchSize: 10,
        lingerMs: 20,
        execute: async (items) => {
          executed.push(items.map((item) => item.n));
          await gate;
          return items.map((item) => item.n * 2);
        },
      });
      const one = { n: 1 };
      const two = { n: 2 };
      const first = batcher.add(one);
      void batcher.add(two);
      expect(batcher.withdraw(two)).toBe(true);
      await jest.advanceTimersByTimeAsync(20);
      expect(executed).toEqual([[1]]);
      expect(batcher.withdraw(one)).toBe(false);
      release();
      await expect(first).resolves.toBe(2);
      await batcher.drain();
      expect(batcher.withdraw({ n: 3 })).toBe(false);
    });

    it('lets items that arrive while a batch runs wait out the linger too, unless they fill a batch', async () => {
      const sizes: number[] = [];
      const batcher = new MicroBatcher<number, number>({
        maxBatchSize: 10,
        maxInFlight: 2,
        lingerMs: 60,
        execute: async (items) => {
          sizes.push(items.length);
          await new Promise((resolve) => setTimeout(resolve, 20));
          return items;
        },
      });
      // A full batch goes at once; six more trickle in while it runs and after it is done.
      const answers = Array.from({ length: 10 }, (_, n) => batcher.add(n));
      expect(sizes).toEqual([10]);
      for (let n = 0; n < 6; n++) {
        answers.push(batcher.add(n));
        await jest.advanceTimersByTimeAsync(6);
      }
      await jest.advanceTimersByTimeAsync(59 - 36);
      expect(sizes).toEqual([10]);
      await jest.advanceTimersByTimeAsync(1);
      expect(sizes).toEqual([10, 6]);
      await jest.advanceTimersByTimeAsync(20);
      await Promise.all(answers);
      expect(sizes).toEqual([10, 6]);
    });
  });

  describe('with permits', () => {
    function gate() {
      const waiting: Array<(permit: number) => void> = [];
      let issued = 0;
      return {
        waiting,
        released: [] as number[],
        acquire: () => new Promise<number>((resolve) => waiting.push(() => resolve(++issued))),
      };
    }
    const tick = () => new Promise((resolve) => setImmediate(resolve));

    it('cuts a batch only once its permit arrives, so items that came meanwhile go with it', async () => {
      const permits = gate();
      const executed: Array<{ items: number[]; permit: number }> = [];
      const batcher = new MicroBatcher<number, number, number>({
        maxBatchSize: 100,
        maxInFlight: 4,
        permit: { acquire: permits.acquire, release: (permit) => permits.released.push(permit) },
        execute: async (items, permit) => {
          executed.push({ items, permit });
          return items;
        },
      });
      const answers = [batcher.add(1)];
      await tick();
      for (let n = 2; n <= 150; n++) answers.push(batcher.add(n));
      await tick();
      // One wait for the first item; a second one only once the pending items fill more than a batch.
      expect(permits.waiting).toHaveLength(2);
      permits.waiting.shift()!(0);
      await tick();
      expect(executed[0].items).toHaveLength(100);
      permits.waiting.shift()!(0);
      await Promise.all(answers);
      expect(executed.map((batch) => batch.items.length)).toEqual([100, 50]);
      expect(executed.map((batch) => batch.permit)).toEqual([1, 2]);
      expect(permits.released).toEqual([]);
    });

    it('gives back a permit that finds nothing left to send, and fails the items when a permit fails', async () => {
      const permits = gate();
      const batcher = new MicroBatcher<string, string, number>({
        maxBatchSize: 10,
        maxInFlight: 2,
        permit: { acquire: permits.acquire, release: (permit) => permits.released.push(permit) },
        execute: async (items) => items,
      });
      const item = 'withdrawn';
      void batcher.add(item);
      await tick();
      expect(batcher.withdraw(item)).toBe(true);
      permits.waiting.shift()!(0);
      await batcher.drain();
      expect(permits.released).toEqual([1]);

      const failing = new MicroBatcher<string, string, number>({
        maxBatchSize: 10,
        permit: { acquire: async () => Promise.reject(new Error('budget spent')), release: () => undefined },
        execute: async (items) => items,
      });
      await expect(failing.add('x')).rejects.toThrow('budget spent');
    });
  });
});
