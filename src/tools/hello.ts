/**
 * hello: the smallest tool — a tracepoint program on sys_enter_execve calls bpf_trace_printk
 * (bpf/tools/hello.c), and user space reads the lines from tracefs (kernel/trace-pipe.ts).
 */
import type { Link } from '../kernel/link/link.js';
import type { KernelObject } from '../kernel/object/kernel-object.js';
import { openTracePipe, type TraceLine, type TracePipeReader } from '../kernel/trace-pipe.js';
import { loadToolObject } from './objects.js';

/** What the program prints before the file name. */
export const HELLO_PREFIX = 'hello, exec of ';

/** Options of {@link startHello}. */
export interface HelloOptions {
  /**
   * Read the global trace_pipe, shared with every other reader (they take lines we then
   * miss), rather than a tracefs instance of our own (default).
   */
  globalPipe?: boolean;
}

/** The attached program and the pipe it prints to. Dispose it to detach. */
export class HelloSession implements Disposable {
  readonly object: KernelObject;
  readonly link: Link;
  readonly pipe: TracePipeReader;

  constructor(object: KernelObject, link: Link, pipe: TracePipeReader) {
    this.object = object;
    this.link = link;
    this.pipe = pipe;
  }

  /** The program's lines from now on (other programs' bpf_printk output is skipped). */
  async *lines(signal?: AbortSignal): AsyncGenerator<TraceLine, void, undefined> {
    for (;;) {
      const line = await this.pipe.read(signal);
      if (line === undefined) return;
      if (line.event === 'bpf_trace_printk' && line.message.startsWith(HELLO_PREFIX)) yield line;
    }
  }

  close(): void {
    this.pipe.close();
    this.link.close();
    this.object.dispose();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Opens the pipe, then loads and attaches the program. */
export function startHello(options: HelloOptions = {}): HelloSession {
  const pipe = openTracePipe({ instance: !options.globalPipe, fresh: true });
  let object: KernelObject | undefined;
  try {
    object = loadToolObject('hello');
    const program = object.programs.hello;
    if (program === undefined) throw new Error("hello: no program 'hello' in the object");
    return new HelloSession(object, program.attach(), pipe);
  } catch (err) {
    object?.dispose();
    pipe.close();
    throw err;
  }
}
