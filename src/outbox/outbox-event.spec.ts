import { eventBytes, kafkaHeaders, OutboxEvent, takeWithinBytes, toTopicMessages } from './outbox-event';

const event = (id: number, topic = 'offload.job-events', key = `job-${id}`, headers: Record<string, unknown> = {}): OutboxEvent => ({
  id: String(id),
  topic,
  key,
  value: JSON.stringify({ event: 'job.queued', n: id }),
  headers,
});

describe('toTopicMessages', () => {
  it('keeps id order within each topic, with key, value and headers', () => {
    const messages = toTopicMessages([event(1), event(2, 'other'), event(3, 'offload.job-events', 'job-1', { source: 'api' })]);
    expect(messages).toEqual([
      {
        topic: 'offload.job-events',
        messages: [
          { key: 'job-1', value: event(1).value, headers: {} },
          { key: 'job-1', value: event(3).value, headers: { source: 'api' } },
        ],
      },
      { topic: 'other', messages: [{ key: 'job-2', value: event(2).value, headers: {} }] },
    ]);
  });

  it('answers nothing for no events', () => {
    expect(toTopicMessages([])).toEqual([]);
  });
});

describe('kafkaHeaders', () => {
  it('passes strings, writes other JSON values as JSON, and drops nulls', () => {
    expect(kafkaHeaders({ a: 'x', b: 2, c: true, d: { e: 1 }, f: ['y', 3], g: null })).toEqual({
      a: 'x',
      b: '2',
      c: 'true',
      d: '{"e":1}',
      f: ['y', '3'],
    });
  });
});

describe('takeWithinBytes', () => {
  const events = [event(1), event(2), event(3), event(4)];
  const size = eventBytes(events[0]);

  it('takes every event that fits', () => {
    expect(takeWithinBytes(events, 10 * size)).toHaveLength(4);
  });

  it('stops before the event that would overflow', () => {
    expect(takeWithinBytes(events, 2 * size + 1).map((e) => e.id)).toEqual(['1', '2']);
  });

  it('takes one event however large, so an oversized event is tried rather than skipped', () => {
    expect(takeWithinBytes(events, 1).map((e) => e.id)).toEqual(['1']);
  });

  it('counts bytes, not characters', () => {
    const wide = { ...event(1), value: '"é"' };
    expect(eventBytes(wide)).toBe(Buffer.byteLength('job-1') + 4 + 2);
  });
});
