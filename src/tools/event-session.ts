/**
 * The shape of the tracing tools (execsnoop, opensnoop): a tool object loaded with its
 * constants, every program attached where its section says, and the `events` ring buffer
 * read as decoded records (BTF `struct event`) mapped into the tool's own event type.
 */
import type { BtfValue } from '../btf/codec.js';
import type { Link } from '../kernel/link/link.js';
import type { KernelObject } from '../kernel/object/kernel-object.js';
import { openRingBuffer, type RingBufferReader } from '../kernel/ringbuf.js';
import { loadToolObject, type ToolObjectName } from './objects.js';

/** Options of {@link EventSession.start}. */
export interface EventSessionOptions<T> {
  /** `.rodata` constants of the object. */
  constants?: Readonly<Record<string, unknown>>;
  /** The ring buffer map (default `events`) and its record type (default `struct event`). */
  ringBuffer?: string;
  recordType?: string;
  /** Turns a decoded record into the tool's event. */
  toEvent(record: Record<string, BtfValue>): T;
}

/** A loaded, attached tool streaming its events. Dispose it (or `using`) to detach. */
export class EventSession<T> implements Disposable {
  readonly object: KernelObject;
  readonly links: readonly Link[];
  readonly reader: RingBufferReader<Record<string, BtfValue>>;
  readonly #toEvent: (record: Record<string, BtfValue>) => T;

  private constructor(object: KernelObject, links: Link[], reader: RingBufferReader<Record<string, BtfValue>>, toEvent: (record: Record<string, BtfValue>) => T) {
    this.object = object;
    this.links = links;
    this.reader = reader;
    this.#toEvent = toEvent;
  }

  /** Loads bpf/tools/NAME.o, attaches all its programs and opens its ring buffer. */
  static start<T>(name: ToolObjectName, options: EventSessionOptions<T>): EventSession<T> {
    const object = loadToolObject(name, options.constants === undefined ? {} : { constants: options.constants });
    const links: Link[] = [];
    try {
      // The reader first: records sent between the attach and the open are kept by the ring anyway.
      const ringName = options.ringBuffer ?? 'events';
      const map = object.maps[ringName];
      if (map === undefined) throw new Error(`${name}: no map '${ringName}' in the object`);
      const reader = openRingBuffer<Record<string, BtfValue>>(map, { type: options.recordType ?? 'struct event' });
      try {
        for (const program of Object.values(object.programs)) links.push(program.attach());
      } catch (err) {
        reader.close();
        throw err;
      }
      return new EventSession(object, links, reader, options.toEvent);
    } catch (err) {
      for (const link of links) link.close();
      object.dispose();
      throw err;
    }
  }

  /** The events from now on, until `signal` aborts or the session closes. */
  async *events(signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const record = await this.reader.read(signal);
      if (record === undefined) return;
      yield this.#toEvent(record);
    }
  }

  /** Detaches the programs and releases the object; idempotent. */
  close(): void {
    this.reader.close();
    for (const link of this.links) link.close();
    this.object.dispose();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
